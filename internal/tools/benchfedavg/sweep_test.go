package main

import (
	"math"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/fl/train"
)

func TestVariantCheck(t *testing.T) {
	paper := variant{fraction: 0.1, batch: 10, epochs: 1, init: "glorot", pixels: "unit", seeds: []uint64{1}}
	for _, tc := range []struct {
		name  string
		edit  func(*variant)
		valid bool
	}{
		{"paper", func(*variant) {}, true},
		{"one client a round, B=∞", func(v *variant) { v.fraction, v.batch = 0.01, 0 }, true},
		{"truncated normal", func(v *variant) { v.init, v.initBias = "normal:0.1", 0.1 }, true},
		{"standardised pixels", func(v *variant) { v.pixels = "standard" }, true},
		{"fraction 0", func(v *variant) { v.fraction = 0 }, false},
		{"negative batch", func(v *variant) { v.batch = -1 }, false},
		{"no epochs", func(v *variant) { v.epochs = 0 }, false},
		{"no seeds", func(v *variant) { v.seeds = nil }, false},
		{"unknown pixels", func(v *variant) { v.pixels = "signed" }, false},
		{"normal without σ", func(v *variant) { v.init = "normal:" }, false},
		{"unknown init", func(v *variant) { v.init = "he" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := paper
			tc.edit(&v)
			if err := v.check(); (err == nil) != tc.valid {
				t.Fatalf("check() = %v, want valid %v", err, tc.valid)
			}
			if tc.name == "paper" != v.isPaper() && tc.valid {
				t.Fatalf("isPaper() = %v", v.isPaper())
			}
		})
	}
}

func TestTruncatedNormalInit(t *testing.T) {
	v := variant{init: "normal:0.1", initBias: 0.1}
	m, err := v.initialModel(3, []int{784, 200, 10})
	if err != nil {
		t.Fatal(err)
	}
	w := m.Tensor(model.DenseWeights(0))
	var sum, sq float64
	for _, x := range w {
		if math.Abs(float64(x)) > 0.2 {
			t.Fatalf("weight %v beyond 2σ", x)
		}
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(w))
	// A normal truncated at ±2σ has standard deviation 0.880σ.
	if sd := math.Sqrt(sq/n - (sum/n)*(sum/n)); math.Abs(sd-0.088) > 0.002 {
		t.Errorf("weights' standard deviation %.4f, want 0.088", sd)
	}
	for _, b := range m.Tensor(model.DenseBias(1)) {
		if b != 0.1 {
			t.Fatalf("bias %v, want 0.1", b)
		}
	}
	g, err := variant{init: "glorot"}.initialModel(3, []int{784, 200, 10})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := model.NewMLP(3, 784, 200, 10)
	for i := range g.Params {
		if g.Params[i] != want.Params[i] {
			t.Fatalf("glorot: params[%d] %v, model.NewMLP has %v", i, g.Params[i], want.Params[i])
		}
	}
}

func TestScalePixels(t *testing.T) {
	for _, tc := range []struct {
		pixels string
		want   []float32
	}{
		{"unit", []float32{0, 1}},
		{"byte", []float32{0, 255}},
		{"standard", []float32{-0.1307 / 0.3081, (1 - 0.1307) / 0.3081}},
	} {
		d := train.Dataset{Dim: 2, Classes: 1, Features: []float32{0, 1}, Labels: []uint8{0}}
		variant{pixels: tc.pixels}.scalePixels(d)
		for i, x := range d.Features {
			if math.Abs(float64(x-tc.want[i])) > 1e-6 {
				t.Errorf("%s: feature %d = %v, want %v", tc.pixels, i, x, tc.want[i])
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		got              []int
		seeds            int
		mean, sd, range_ string
	}{
		{[]int{30, 34}, 2, "32.0", "2.8", "30–34"},
		{[]int{30}, 1, "30.0", "—", "30–30"},
		{[]int{30}, 2, "—", "—", "—"},
	} {
		m, s, r := summarize(tc.got, tc.seeds)
		if m != tc.mean || s != tc.sd || r != tc.range_ {
			t.Errorf("summarize(%v, %d) = %s %s %s, want %s %s %s", tc.got, tc.seeds, m, s, r, tc.mean, tc.sd, tc.range_)
		}
	}
}
