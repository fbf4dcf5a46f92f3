package detect

import (
	"math"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/stages/reading"
)

// TestScore runs the sin model (one value in, one out) on a one-reading
// window: score output is the model's answer, TensorFlow Lite's reference
// value (within the float models' 1e-5 relative); score mse is
// (output - input)².
func TestScore(t *testing.T) {
	c := goldenCase(t, "sin/x1_5708")
	x := float64(c.Input.Source.Values[0])
	want := c.TFLite.Outputs[0].Floats[0]
	msg := func() *reading.Reading { return &reading.Reading{Stream: "angle", Time: time.Unix(1, 0), Value: x} }
	for _, tt := range []struct {
		cfg     string
		score   float64
		anomaly bool
	}{
		{"output: score\nthreshold: 0.9", f(want), true},
		{"output: score\nthreshold: 0.99", f(want), false},
		{"output: score\nscore: mse\nthreshold: 0.5", float64((want - float32(x)) * (want - float32(x))), false},
	} {
		t.Run(tt.cfg, func(t *testing.T) {
			d := newDetector(t, "model: "+modelPath(t, c)+"\n"+tt.cfg)
			res := process(t, d, reading.NewMessage([]reading.Reading{*msg()}))
			if res.Kind != OutputScore || res.Score == nil || res.Anomaly == nil || res.Threshold == nil {
				t.Fatalf("result %+v", res)
			}
			if !near(*res.Score, tt.score) || *res.Anomaly != tt.anomaly {
				t.Fatalf("score %v anomaly %v, want %v %v", *res.Score, *res.Anomaly, tt.score, tt.anomaly)
			}
		})
	}
	// raw on the same window: the output tensor as it is.
	d := newDetector(t, "model: "+modelPath(t, c)+"\noutput: raw")
	res := process(t, d, reading.NewMessage([]reading.Reading{*msg()}))
	if len(res.Outputs) != 1 || !near(res.Outputs[0].Values[0], f(want)) || res.Outputs[0].Type != "float32" {
		t.Fatalf("outputs %+v, want %v", res.Outputs, want)
	}
}

// near: within 1e-5 relative (or 1e-7 absolute near 0).
func near(got, want float64) bool {
	return math.Abs(got-want) <= max(1e-5*math.Abs(want), 1e-7)
}

// TestQuantizedWindow feeds a uint8 model its golden input as readings of the
// real values the bytes stand for ((q - 128) / 128): quantised back with the
// input's scale and zero point they are the same bytes, so the outputs are
// TensorFlow Lite's reference exactly.
func TestQuantizedWindow(t *testing.T) {
	c := goldenCase(t, "mobilenet_v1_0.25_128_quant/cat")
	q := c.Input.Quantization
	rs := make([]reading.Reading, len(c.Input.Data))
	for i, b := range c.Input.Data {
		rs[i] = reading.Reading{Stream: "pixels", Time: time.Unix(int64(i), 0), Value: float64(q.Scale) * float64(int64(b)-q.ZeroPoint)}
	}
	d := newDetector(t, "model: "+modelPath(t, c)+"\noutput: raw")
	res := process(t, d, reading.NewMessage(rs))
	want := c.TFLite.Outputs[0]
	for j, v := range res.Outputs[0].Values {
		if w := f(want.Quantization.Scale * float32(want.Ints[j]-want.Quantization.ZeroPoint)); v != w {
			t.Fatalf("output value %d = %v, TFLite's reference %v", j, v, w)
		}
	}
}
