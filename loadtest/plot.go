package loadtest

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/pricing-engine/pricing-engine/internal/pngplot"
)

// Plot geometry.
const (
	plotWidth     = 10 * vg.Inch
	plotRowHeight = 11 * vg.Inch / 3
	// plotDecades is how many nines the percentile plot reaches (99.999%).
	plotDecades = 5
)

// WritePlot writes a PNG to path with three panels: latency percentiles
// over time, throughput and failures over time, and the latency
// distribution by percentile.
func WritePlot(res *Result, path string) error {
	title := fmt.Sprintf("%s, %d users", res.Mode, res.Users)
	if res.Rate > 0 {
		title += fmt.Sprintf(", %.0f req/s", res.Rate)
	}
	overTime, err := latencyOverTime(res, title)
	if err != nil {
		return err
	}
	rate, err := throughputOverTime(res)
	if err != nil {
		return err
	}
	dist, err := distribution(res)
	if err != nil {
		return err
	}
	return pngplot.WriteColumn(path, plotWidth, plotRowHeight, overTime, rate, dist)
}

// Line colours.
func plotColor(i int) color.Color {
	switch i {
	case 0:
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	case 1:
		return color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	case 2:
		return color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	default:
		return color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	}
}

func addLine(p *plot.Plot, name string, i int, pts plotter.XYs) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("cannot draw %s: %w", name, err)
	}
	l.Color = plotColor(i)
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

func latencyOverTime(res *Result, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency over time (" + title + ")"
	p.X.Label.Text = "elapsed (s)"
	p.Y.Label.Text = "latency (ms)"
	p.X.Min, p.Y.Min = 0, 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	series := []struct {
		name string
		get  func(SeriesPoint) float64
	}{
		{"p50", func(s SeriesPoint) float64 { return s.P50 }},
		{"p95", func(s SeriesPoint) float64 { return s.P95 }},
		{"p99", func(s SeriesPoint) float64 { return s.P99 }},
	}
	for i, s := range series {
		pts := make(plotter.XYs, 0, len(res.Series))
		for _, pt := range res.Series {
			pts = append(pts, plotter.XY{X: pt.Seconds, Y: s.get(pt)})
		}
		if err := addLine(p, s.name, i, pts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func throughputOverTime(res *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Throughput (mean %.0f req/s) and failures (%d)", res.Throughput, res.Failures)
	p.X.Label.Text = "elapsed (s)"
	p.Y.Label.Text = "per second"
	p.X.Min, p.Y.Min = 0, 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	rps := make(plotter.XYs, 0, len(res.Series))
	fails := make(plotter.XYs, 0, len(res.Series))
	prev := 0.0
	for _, pt := range res.Series {
		rps = append(rps, plotter.XY{X: pt.Seconds, Y: pt.RPS})
		span := pt.Seconds - prev
		prev = pt.Seconds
		f := 0.0
		if span > 0 {
			f = float64(pt.Failures) / span
		}
		fails = append(fails, plotter.XY{X: pt.Seconds, Y: f})
	}
	if err := addLine(p, "requests/s", 0, rps); err != nil {
		return nil, err
	}
	if err := addLine(p, "failures/s", 2, fails); err != nil {
		return nil, err
	}
	return p, nil
}

// distribution plots latency against percentile on a "nines" axis: x is
// 1/(1-q), drawn on a log scale, so 90%, 99%, 99.9%... are equally spaced.
func distribution(res *Result) (*plot.Plot, error) {
	p := plot.New()
	l := res.Latency
	p.Title.Text = fmt.Sprintf("Latency by percentile (p50 %.1f, p95 %.1f, p99 %.1f, max %.1f ms)", l.P50, l.P95, l.P99, l.Max)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale = plot.LogScale{}
	p.X.Min = 1
	p.X.Max = math.Pow(10, plotDecades)
	p.Y.Min = 0
	p.X.Tick.Marker = plot.TickerFunc(func(_, _ float64) []plot.Tick {
		ticks := []plot.Tick{{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}}
		names := [plotDecades]string{"90%", "99%", "99.9%", "99.99%", "99.999%"}
		for d, name := range names {
			ticks = append(ticks, plot.Tick{Value: math.Pow(10, float64(d+1)), Label: name})
		}
		return ticks
	})
	p.Add(plotter.NewGrid())
	if res.hist == nil || res.hist.TotalCount() == 0 {
		return p, nil
	}
	const steps = 20 // points per decade
	pts := make(plotter.XYs, 0, plotDecades*steps+1)
	for k := 0; k <= plotDecades*steps; k++ {
		x := math.Pow(10, float64(k)/steps)
		q := 100 * (1 - 1/x)
		pts = append(pts, plotter.XY{X: x, Y: usToMs(res.hist.ValueAtPercentile(q))})
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, fmt.Errorf("cannot draw the distribution: %w", err)
	}
	line.Color = plotColor(0)
	line.Width = vg.Points(1.5)
	p.Add(line)
	return p, nil
}
