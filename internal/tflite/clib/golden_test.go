//go:build tflite && cgo

package clib

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/internal/tflite"
	"github.com/edgeflow/edgeflow/internal/tflite/golden"
)

// The method set both back ends share: the detect stage's way of running a model.
type invoker interface {
	NumInputs() int
	NumOutputs() int
	Invoke(ctx context.Context) error
	Close()
}

var (
	_ invoker = (*Interpreter)(nil)
	_ invoker = (*tflite.Interpreter)(nil)
)

// TestGolden runs every golden case on the C library and compares the outputs
// with TensorFlow Lite's reference kernels (<case>.tflite_ref.json). The C
// library runs its optimised kernels, which may round quantised values one
// quantum away from the reference kernels; so quantised outputs must be
// within one quantum, float outputs within 1e-4 (relative above 1), the top-1
// class one of the case's tied best, and SSD outputs (boxes, classes, scores,
// count) within 1e-2.
func TestGolden(t *testing.T) {
	t.Logf("TensorFlow Lite C library %s", Version())
	cases, err := golden.Load(filepath.Join("..", "testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.ID(), func(t *testing.T) {
			if c.TFLite == nil {
				t.Fatalf("%s: no TFLite reference outputs", c.ID())
			}
			ip := newGoldenInterpreter(t, c)
			copy(ip.Input(0).Data, c.Input.Data)
			if err := ip.Invoke(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ip.NumOutputs() != len(c.TFLite.Outputs) {
				t.Fatalf("%d outputs, the reference %d", ip.NumOutputs(), len(c.TFLite.Outputs))
			}
			for i, want := range c.TFLite.Outputs {
				compareOutput(t, c, i, ip.Output(i), want)
			}
			if c.Kind == golden.KindClassification {
				got := values(ip.Output(0))
				best := 0
				for i, v := range got {
					if v > got[best] {
						best = i
					}
				}
				ties := c.Top1Ties
				if len(ties) == 0 && len(c.Top5) > 0 {
					ties = []int{c.Top5[0].Index}
				}
				if !slices.Contains(ties, best) {
					t.Errorf("top-1 class %d, the reference's best %v", best, ties)
				}
			}
		})
	}
}

func newGoldenInterpreter(t *testing.T, c golden.Case) *Interpreter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := c.Model.Source.Locate(ctx, testenv.SharedFile(t, ""))
	if errors.Is(err, golden.ErrModelUnavailable) {
		testenv.Unavailable(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := NewInterpreter(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ip.Close)
	in := ip.Input(0)
	if in.Name != c.Input.Name || len(in.Data) != len(c.Input.Data) {
		t.Fatalf("input %s (%d bytes), the case %s (%d bytes)", in, len(in.Data), c.Input.Name, len(c.Input.Data))
	}
	return ip
}

// values decodes an output's bytes as float64: raw values for integer types.
func values(t *Tensor) []float64 {
	var out []float64
	d := t.Data
	switch t.Type {
	case tflite.Float32:
		for i := 0; i+4 <= len(d); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(d[i:]))))
		}
	case tflite.Uint8:
		for _, b := range d {
			out = append(out, float64(b))
		}
	case tflite.Int8:
		for _, b := range d {
			out = append(out, float64(int8(b)))
		}
	case tflite.Int32:
		for i := 0; i+4 <= len(d); i += 4 {
			out = append(out, float64(int32(binary.LittleEndian.Uint32(d[i:]))))
		}
	}
	return out
}

func compareOutput(t *testing.T, c golden.Case, i int, got *Tensor, want golden.Tensor) {
	t.Helper()
	if got.Name != want.Name {
		t.Errorf("outputs[%d]: name %q, the reference %q", i, got.Name, want.Name)
	}
	g := values(got)
	w := make([]float64, 0, want.NumElements())
	for _, v := range want.Ints {
		w = append(w, float64(v))
	}
	for _, v := range want.Floats {
		w = append(w, float64(v))
	}
	if len(g) != len(w) {
		t.Errorf("outputs[%d] (%s): %d values, the reference %d", i, got.Name, len(g), len(w))
		return
	}
	tol := func(v float64) float64 { return 1e-4 * max(1, math.Abs(v)) }
	switch {
	case want.Quantization != nil:
		tol = func(float64) float64 { return 1 }
	case c.Kind == golden.KindDetection: // boxes, classes, scores, count
		tol = func(float64) float64 { return 1e-2 }
	}
	bad := 0
	for j := range g {
		if d := math.Abs(g[j] - w[j]); d > tol(w[j]) {
			if bad < 5 {
				t.Errorf("outputs[%d] (%s)[%d] = %v, the reference %v", i, got.Name, j, g[j], w[j])
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("outputs[%d] (%s): %d values differ in all", i, got.Name, bad)
	}
}
