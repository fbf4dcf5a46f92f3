package main

import (
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var colours = map[string]color.Color{
	"iid":      color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"iid-int8": color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"noniid":   color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// drawPlot writes test accuracy per round of every setting, with the 97 %
// line.
func (r *report) drawPlot(path string) error {
	p := plot.New()
	p.Title.Text = "FedAvg on MNIST, 2NN, C=0.1, E=1, B=10"
	p.X.Label.Text = "round"
	p.Y.Label.Text = "test accuracy"
	p.Y.Min, p.Y.Max = 0.8, 1
	p.Legend.Left, p.Legend.Top = false, false
	maxRound := 1.0
	for _, o := range r.present() {
		xys := make(plotter.XYs, len(o.Rounds))
		for i, rec := range o.Rounds {
			xys[i] = plotter.XY{X: float64(rec.Round), Y: max(rec.TestAccuracy, 0.8)}
		}
		maxRound = max(maxRound, float64(len(o.Rounds)))
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = colours[o.Setting]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(titles[o.Setting], l)
	}
	t, err := plotter.NewLine(plotter.XYs{{X: 0, Y: r.cfg.target}, {X: maxRound, Y: r.cfg.target}})
	if err != nil {
		return err
	}
	t.Color = color.Gray{Y: 0x80}
	t.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(t)
	p.Add(plotter.NewGrid())

	img := vgimg.New(vg.Points(720), vg.Points(400))
	p.Draw(draw.New(img))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
