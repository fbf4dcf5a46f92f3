package tflite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/internal/tflite/golden"
)

// goldenDir holds reference outputs of real models (see golden's doc).
var goldenDir = filepath.Join("testdata", "golden")

// goldenModels loads the golden cases grouped by model, in order.
func goldenModels(t testing.TB) ([]string, map[string][]golden.Case) {
	t.Helper()
	cases, err := golden.Load(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	by := map[string][]golden.Case{}
	for _, c := range cases {
		if by[c.ModelName] == nil {
			names = append(names, c.ModelName)
		}
		by[c.ModelName] = append(by[c.ModelName], c)
	}
	return names, by
}

// goldenModel loads the model file a case ran.
func goldenModel(t testing.TB, c golden.Case) *Model {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	shared := ""
	if c.Model.Source.Shared != "" {
		shared = testenv.SharedFile(t, "")
	}
	path, err := c.Model.Source.Locate(ctx, shared)
	if errors.Is(err, golden.ErrModelUnavailable) {
		testenv.Unavailable(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGolden runs every golden case once and compares the outputs with
// TensorFlow Lite's reference kernels (the .tflite_ref.json beside each case):
// quantized outputs within one quantum and the same top-1 class, float
// outputs within 1e-5 relative, SSD boxes within 1e-3, classes equal and
// scores within one quantum of the class predictions; then with Arm NN's
// outputs (compareArmNN).
func TestGolden(t *testing.T) {
	names, by := goldenModels(t)
	for _, name := range names {
		cases := by[name]
		t.Run(name, func(t *testing.T) {
			m := goldenModel(t, cases[0])
			ip, err := NewInterpreter(m)
			if err != nil {
				t.Fatal(err)
			}
			defer ip.Close()
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					if c.TFLite == nil {
						t.Fatalf("%s: no TFLite reference outputs", c.ID())
					}
					runGolden(t, ip, c)
					t.Run("TFLite", func(t *testing.T) { compareGolden(t, ip, c, c.TFLite.Outputs) })
					if c.Kind != golden.KindDetection {
						t.Run("ArmNN", func(t *testing.T) { compareArmNN(t, ip, c) })
					}
				})
			}
		})
	}
}

func runGolden(t *testing.T, ip *Interpreter, c golden.Case) {
	t.Helper()
	in := ip.Input(0)
	if len(in.Data) != len(c.Input.Data) {
		t.Fatalf("input %s has %d bytes, the case %d", in, len(in.Data), len(c.Input.Data))
	}
	copy(in.Data, c.Input.Data)
	if err := ip.Invoke(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// outputValues returns an output tensor's values as float64: dequantized for
// float32, raw for integer types.
func outputValues(t *Tensor) []float64 {
	out := make([]float64, t.NumElements())
	switch t.Type {
	case Float32:
		for i, v := range t.Float32s() {
			out[i] = float64(v)
		}
	case Uint8:
		for i, v := range t.UInt8s() {
			out[i] = float64(v)
		}
	case Int8:
		for i, v := range t.Int8s() {
			out[i] = float64(v)
		}
	}
	return out
}

func wantValues(g golden.Tensor) []float64 {
	if g.Floats != nil {
		out := make([]float64, len(g.Floats))
		for i, v := range g.Floats {
			out[i] = float64(v)
		}
		return out
	}
	out := make([]float64, len(g.Ints))
	for i, v := range g.Ints {
		out[i] = float64(v)
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func compareGolden(t *testing.T, ip *Interpreter, c golden.Case, want []golden.Tensor) {
	t.Helper()
	if ip.NumOutputs() != len(want) {
		t.Fatalf("%d outputs, want %d", ip.NumOutputs(), len(want))
	}
	if c.Kind == golden.KindDetection {
		compareDetections(t, ip, c, want)
		return
	}
	for i, w := range want {
		got := outputValues(ip.Output(i))
		exp := wantValues(w)
		if len(got) != len(exp) {
			t.Fatalf("outputs[%d]: %d values, want %d", i, len(got), len(exp))
		}
		worst, at, differ := 0.0, 0, 0
		for j := range got {
			d := math.Abs(got[j] - exp[j])
			if d != 0 {
				differ++
			}
			if w.DType == golden.Float32 {
				d /= max(math.Abs(exp[j]), 1e-3) // relative, absolute near zero
			}
			if d > worst {
				worst, at = d, j
			}
		}
		if differ > 0 {
			t.Logf("outputs[%d]: %d of %d values differ, by at most %g", i, differ, len(got), worst)
		}
		tol := 1.0 // one quantum
		if w.DType == golden.Float32 {
			tol = 1e-5
		}
		if worst > tol {
			t.Errorf("outputs[%d][%d] = %v, want %v (worst difference %g, tolerance %g)", i, at, got[at], exp[at], worst, tol)
		}
		if c.Kind == golden.KindClassification && i == 0 {
			if g, e := argmax(got), argmax(exp); g != e && got[g] != got[e] {
				t.Errorf("top-1 class %d (%v), want %d (%v)", g, got[g], e, exp[e])
			}
		}
	}
}

// compareDetections checks the SSD outputs: the count equal, and per
// detection the class equal, the score within one quantum of the class
// predictions (1/256) and the box within 1e-3.
func compareDetections(t *testing.T, ip *Interpreter, c golden.Case, want []golden.Tensor) {
	t.Helper()
	boxes, classes, scores, count := outputValues(ip.Output(0)), outputValues(ip.Output(1)), outputValues(ip.Output(2)), outputValues(ip.Output(3))
	wBoxes, wClasses, wScores, wCount := wantValues(want[0]), wantValues(want[1]), wantValues(want[2]), wantValues(want[3])
	if count[0] != wCount[0] {
		t.Fatalf("%v detections, want %v", count[0], wCount[0])
	}
	const scoreQuantum = 1.0 / 256
	for i := range int(count[0]) {
		got := fmt.Sprintf("class %v score %.5f box %.4f", classes[i], scores[i], boxes[4*i:4*i+4])
		exp := fmt.Sprintf("class %v score %.5f box %.4f", wClasses[i], wScores[i], wBoxes[4*i:4*i+4])
		bad := classes[i] != wClasses[i] || math.Abs(scores[i]-wScores[i]) > scoreQuantum+1e-6
		for j := 4 * i; j < 4*i+4; j++ {
			bad = bad || math.Abs(boxes[j]-wBoxes[j]) > 1e-3
		}
		if bad {
			t.Errorf("detection %d: %s, want %s", i, got, exp)
		}
	}
}

// compareArmNN compares with the Arm NN CpuRef outputs the golden cases
// were recorded with. Float models agree within 1e-5 relative. On quantized
// models Arm NN 20.08 computes in float32 and quantizes once, where TFLite's
// integer kernels (which edgeflow follows) round twice in
// MultiplyByQuantizedMultiplier, so some scores differ by a few quanta
// (internal/tools/armnn/README.md, "Arm NN against TensorFlow Lite"): a value
// may differ from Arm NN's only where it equals TFLite's reference output.
// SSD post-processing differs by algorithm (Arm NN's suppressed boxes still
// suppress others; its sort is not stable), so detections are compared with
// TFLite only.
func compareArmNN(t *testing.T, ip *Interpreter, c golden.Case) {
	t.Helper()
	for i, w := range c.Outputs {
		got, armnn := outputValues(ip.Output(i)), wantValues(w)
		if w.DType == golden.Float32 {
			for j := range got {
				if d := math.Abs(got[j]-armnn[j]) / max(math.Abs(armnn[j]), 1e-3); d > 1e-5 {
					t.Errorf("outputs[%d][%d] = %v, Arm NN %v", i, j, got[j], armnn[j])
				}
			}
			continue
		}
		tfl := wantValues(c.TFLite.Outputs[i])
		differ := 0
		for j := range got {
			if got[j] != armnn[j] {
				differ++
				if got[j] != tfl[j] {
					t.Errorf("outputs[%d][%d] = %v, Arm NN %v, TFLite %v", i, j, got[j], armnn[j], tfl[j])
				}
			}
		}
		if differ > 0 {
			t.Logf("outputs[%d]: %d of %d values differ from Arm NN's, each equal to TFLite's", i, differ, len(got))
		}
	}
}
