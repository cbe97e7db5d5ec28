package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/pricing-engine/pricing-engine/internal/pngplot"
)

// Colours of the servers, in allServers order.
var serverColors = map[string]color.Color{
	"pricing-engine": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"fasthttp":       color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"nethttp":        color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"gnetraw":        color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

// writeChart writes a PNG with three panels: throughput of the in-memory
// scenarios relative to the raw limit, P95 of the seed scenarios against the I/O floor, and RSS per
// idle connection.
func writeChart(r *Report, path string) error {
	var thr, seed, idle []string
	for _, sc := range r.scenarios {
		switch {
		case sc.items > 0: // items/s against single req/s: a table of its own (batchTable)
		case sc.idle:
			idle = append(idle, sc.key)
		case sc.latency == "seed":
			seed = append(seed, sc.key)
		default:
			thr = append(thr, sc.key)
		}
	}
	var plots []*plot.Plot
	if len(thr) > 0 {
		p, err := r.bars(thr, "Throughput, in memory: req/s relative to the raw gnet limit, median of per-round ratios (higher is better)", "x limit",
			func(s Summary) float64 { return r.pairedRatio(s.Scenario, s.Server, "gnetraw") })
		if err != nil {
			return err
		}
		if err := addRefLine(p, len(thr), 1, false); err != nil {
			return err
		}
		plots = append(plots, p)
	}
	if len(seed) > 0 {
		p, err := r.bars(seed, fmt.Sprintf("Seed profile: P95 latency (ms; lower is better; floor %.0f ms dashed, 2x floor dotted)", ioFloorMs), "P95 ms",
			func(s Summary) float64 { return s.P95ms })
		if err != nil {
			return err
		}
		if err := addRefLine(p, len(seed), ioFloorMs, false); err != nil {
			return err
		}
		if err := addRefLine(p, len(seed), 2*ioFloorMs, true); err != nil {
			return err
		}
		plots = append(plots, p)
	}
	if len(idle) > 0 {
		p, err := r.bars(idle, "Idle keep-alive connections: server RSS per connection (KiB; lower is better; target 4 KiB dashed)", "KiB",
			func(s Summary) float64 { return s.BytesPerCon / 1024 })
		if err != nil {
			return err
		}
		if err := addRefLine(p, len(idle), 4, false); err != nil {
			return err
		}
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		return nil
	}
	return pngplot.WriteColumn(path, 11*vg.Inch, 3.6*vg.Inch, plots...)
}

// bars draws one group of bars per scenario, one bar per server.
func (r *Report) bars(scens []string, title, ylabel string, value func(Summary) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Millimeter * 2
	w := vg.Points(18)
	n := len(r.servers)
	top := 0.0
	for i, sv := range r.servers {
		vals := make(plotter.Values, len(scens))
		any := false
		for j, sc := range scens {
			if s, ok := r.get(sc, sv.key); ok {
				vals[j] = value(s)
				top = max(top, vals[j])
				any = true
			}
		}
		if !any {
			continue
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = serverColors[sv.key]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
		p.Add(b)
		p.Legend.Add(sv.name, b)
	}
	p.Y.Max = top * 1.4 // room for the legend above the bars
	p.NominalX(scens...)
	p.X.Min, p.X.Max = -0.6, float64(len(scens))-0.4
	return p, nil
}

// addRefLine draws a black horizontal line at y across the n bar groups of
// p, dashed, or dotted when dotted is set.
func addRefLine(p *plot.Plot, n int, y float64, dotted bool) error {
	l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y}, {X: float64(n) - 0.5, Y: y}})
	if err != nil {
		return err
	}
	l.Color = color.Black
	l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	if dotted {
		l.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
	}
	p.Add(l)
	return nil
}
