package pngplot

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func TestWriteColumn(t *testing.T) {
	var plots []*plot.Plot
	for range 3 {
		p := plot.New()
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 1}, {X: 1, Y: 2}})
		if err != nil {
			t.Fatal(err)
		}
		p.Add(l)
		plots = append(plots, p)
	}
	path := filepath.Join(t.TempDir(), "column.png")
	if err := WriteColumn(path, 4*vg.Inch, 2*vg.Inch, plots...); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// vgimg draws at 96 dpi by default: 4 in wide, 3 rows of 2 in.
	if cfg.Width != 4*96 || cfg.Height != 6*96 {
		t.Errorf("image is %dx%d, want %dx%d", cfg.Width, cfg.Height, 4*96, 6*96)
	}
	if err := WriteColumn(path, vg.Inch, vg.Inch); err == nil {
		t.Error("no plots: want an error")
	}
	if err := WriteColumn(filepath.Join(t.TempDir(), "missing", "x.png"), vg.Inch, vg.Inch, plots[0]); err == nil {
		t.Error("unwritable path: want an error")
	}
}
