// Package pngplot writes gonum plots stacked in one column to a PNG file:
// the one chart layout the load tester and the benchmark harness share.
package pngplot

import (
	"fmt"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteColumn draws plots one above the other, each rowHeight tall and
// width wide, with their axes aligned, and writes the image to path as PNG.
func WriteColumn(path string, width, rowHeight vg.Length, plots ...*plot.Plot) error {
	if len(plots) == 0 {
		return fmt.Errorf("pngplot: no plots to write to %s", path)
	}
	img := vgimg.New(width, vg.Length(len(plots))*rowHeight)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1,
		PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3,
		PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, draw.New(img))
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("pngplot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("pngplot: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pngplot: write %s: %w", path, err)
	}
	return nil
}
