package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var colours = []color.Color{
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // greedy
	color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // random
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // best-fit
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // balanced
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // dot-product
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // norm-fit
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // most-allocated
}

// drawPlot writes a PNG with two panels: acceptance against utilisation over
// the load sweep on 100 nodes, and p99 latency against cluster size.
func (r *report) drawPlot(path string) error {
	left := plot.New()
	left.Title.Text = "100 nodes, load 0.6–1.6"
	left.X.Label.Text = "utilisation (mean of CPU and memory)"
	left.Y.Label.Text = "acceptance"
	left.Legend.Left, left.Legend.Top = true, false
	for i, pts := range r.sweep {
		xys := make(plotter.XYs, len(pts))
		for k, p := range pts {
			xys[k] = plotter.XY{X: util(p), Y: p.AcceptanceRate()}
		}
		if err := addLine(left, xys, colours[i%len(colours)], pts[0].Algorithm); err != nil {
			return err
		}
	}

	right := plot.New()
	right.Title.Text = fmt.Sprintf("decision latency p99, load %.2f (dashed: CPU time)", r.config.load)
	right.X.Label.Text = "nodes"
	right.Y.Label.Text = "p99 (µs)"
	right.X.Scale, right.Y.Scale = plot.LogScale{}, plot.LogScale{}
	right.X.Tick.Marker, right.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	right.Legend.Left, right.Legend.Top = true, true
	if len(r.sizes) > 0 {
		for a := range r.sizes[0] {
			xys := make(plotter.XYs, len(r.sizes))
			for k, rows := range r.sizes {
				xys[k] = plotter.XY{X: float64(rows[a].Nodes), Y: max(float64(rows[a].LatencyP99.Nanoseconds())/1000, 0.1)}
			}
			if err := addLine(right, xys, colours[a%len(colours)], r.sizes[0][a].Algorithm); err != nil {
				return err
			}
			cpu := make(plotter.XYs, len(r.sizes))
			for k, rows := range r.sizes {
				cpu[k] = plotter.XY{X: float64(rows[a].Nodes), Y: max(float64(rows[a].CPUP99.Nanoseconds())/1000, 0.1)}
			}
			l, err := plotter.NewLine(cpu)
			if err != nil {
				return err
			}
			l.Color, l.Width, l.Dashes = colours[a%len(colours)], vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
			right.Add(l)
		}
	}

	img := vgimg.New(vg.Points(900), vg.Points(360))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadY: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10), PadTop: vg.Points(10), PadBottom: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	return savePNG(img, path)
}

func addLine(p *plot.Plot, xys plotter.XYs, c color.Color, name string) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}
