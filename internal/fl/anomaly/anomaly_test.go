package anomaly

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestReadTelosB(t *testing.T) {
	const head = "reading,mote_id,indoor,humidity,temperature,label\n"
	tests := []struct {
		name    string
		in      string
		want    int    // readings
		wantErr string // substring of the error
	}{
		{name: "two motes", in: head + "1,1,0,43.82,30.21,0\n1,3,1,47.0,27.5,1\n2,1,0,43.79,30.2,0\n", want: 3},
		{name: "bad header", in: "reading,mote,indoor,humidity,temperature,label\n", wantErr: "x.csv:1: header column 2"},
		{name: "humidity not a number", in: head + "1,1,0,4x,30.21,0\n", wantErr: "x.csv:2: humidity"},
		{name: "temperature NaN", in: head + "1,1,0,43,NaN,0\n", wantErr: "x.csv:2: temperature"},
		{name: "label 2", in: head + "1,1,0,43,30,2\n", wantErr: "x.csv:2: label"},
		{name: "indoor yes", in: head + "1,1,yes,43,30,0\n", wantErr: "x.csv:2: indoor"},
		{name: "reading goes back", in: head + "2,1,0,43,30,0\n2,1,0,43,30,0\n", wantErr: "x.csv:3: reading: mote 1"},
		{name: "missing column", in: head + "1,1,0,43,30\n", wantErr: "x.csv:2:"},
		{name: "empty mote", in: head + "1,,0,43,30,0\n", wantErr: "x.csv:2: mote_id"},
		{name: "no readings", in: head, wantErr: "no readings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTelosB(context.Background(), strings.NewReader(tt.in), "x.csv")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrFormat) {
					t.Fatalf("err = %v, want one containing %q wrapping ErrFormat", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("got %d readings, %v; want %d", len(got), err, tt.want)
			}
			nodes := ByNode(got)
			if len(nodes) != 2 || nodes[0].ID != "1" || len(nodes[0].Readings) != 2 || !nodes[1].Indoor || nodes[1].Anomalies() != 1 {
				t.Fatalf("ByNode = %+v", nodes)
			}
		})
	}
}

func stream(vals ...float64) Node {
	n := Node{ID: "n"}
	for i, v := range vals {
		n.Readings = append(n.Readings, Reading{Line: i + 2, Seq: i + 1, Node: "n", Humidity: v, Temperature: 2 * v})
	}
	return n
}

func TestWindows(t *testing.T) {
	cfg := WindowConfig{Size: 3, Warmup: 3, MinStd: 0.5, Clip: 4}
	tests := []struct {
		name      string
		vals      []float64
		windows   int
		end       int       // End of the first window
		values    []float64 // humidity of the first window, oldest first
		mean, std float64   // first window's humidity statistics
		dstd      float64
		features  []float32 // first window's humidity features
	}{
		{
			name: "ramp", vals: []float64{0, 1, 2, 3, 4}, windows: 2, end: 3,
			values: []float64{1, 2, 3}, mean: 1, std: 1, dstd: 0.5, // the first three readings: mean 1, sd 1; deltas 1,1: sd floored at 0.5
			features: []float32{0, 1, 2, 2, 2},
		},
		{
			name: "spike clipped", vals: []float64{1, 1, 1, 100}, windows: 1, end: 3,
			values: []float64{1, 1, 100}, mean: 1, std: 0.5, dstd: 0.5,
			features: []float32{0, 0, 4, 0, 4},
		},
		{name: "too short", vals: []float64{1, 2, 3}, windows: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := NodeWindows(stream(tt.vals...), cfg)
			if err != nil || len(ws) != tt.windows {
				t.Fatalf("got %d windows, %v; want %d", len(ws), err, tt.windows)
			}
			if tt.windows == 0 {
				return
			}
			w := ws[0]
			if w.End != tt.end {
				t.Errorf("end %d, want %d", w.End, tt.end)
			}
			for i, v := range tt.values {
				if w.Value(i, 0) != v || w.Value(i, 1) != 2*v {
					t.Errorf("value %d = %v,%v; want %v,%v", i, w.Value(i, 0), w.Value(i, 1), v, 2*v)
				}
			}
			if s := w.Stats; s.Mean[0] != tt.mean || math.Abs(s.Std[0]-tt.std) > 1e-12 || s.DeltaStd[0] != tt.dstd {
				t.Errorf("stats %+v, want mean %v std %v delta std %v", s, tt.mean, tt.std, tt.dstd)
			}
			f := w.AppendFeatures(nil, cfg)
			if len(f) != cfg.Dim(2) {
				t.Fatalf("%d features, want %d", len(f), cfg.Dim(2))
			}
			for i, v := range tt.features {
				if math.Abs(float64(f[i]-v)) > 1e-6 {
					t.Errorf("features %v, want humidity part %v", f, tt.features)
					break
				}
			}
		})
	}
}

func TestWindowerRejects(t *testing.T) {
	tests := []struct {
		name   string
		cfg    WindowConfig
		values []float64
		want   string
	}{
		{name: "size 1", cfg: WindowConfig{Size: 1, Warmup: 1, MinStd: 1, Clip: 1}, want: "size 1"},
		{name: "short warmup", cfg: WindowConfig{Size: 4, Warmup: 2, MinStd: 1, Clip: 1}, want: "warmup 2"},
		{name: "zero min std", cfg: WindowConfig{Size: 2, Warmup: 2, Clip: 1}, want: "min_std 0"},
		{name: "zero clip", cfg: WindowConfig{Size: 2, Warmup: 2, MinStd: 1}, want: "clip 0"},
		{name: "too few values", cfg: DefaultWindowConfig(), values: []float64{1}, want: "reading 0: 1 values, want 2"},
		{name: "infinite value", cfg: DefaultWindowConfig(), values: []float64{1, math.Inf(1)}, want: "channel 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWindower(tt.cfg, 2)
			if err == nil {
				_, _, err = w.Push(tt.values)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSplitByTime(t *testing.T) {
	cfg := WindowConfig{Size: 3, Warmup: 2, MinStd: 1, Clip: 10}
	vals := make([]float64, 22) // windows end at readings 2..21: 20 windows
	ws, err := NodeWindows(stream(vals...), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                   string
		fraction               float64
		train, test, firstTest int
		wantErr                bool
	}{
		{name: "half", fraction: 0.5, train: 10, test: 8, firstTest: 14},            // cut at reading 12; 12, 13 dropped
		{name: "three quarters", fraction: 0.75, train: 15, test: 3, firstTest: 19}, // cut at reading 17
		{name: "zero", fraction: 0, wantErr: true},
		{name: "one", fraction: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, te, err := SplitByTime(ws, tt.fraction)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil || len(tr) != tt.train || len(te) != tt.test || te[0].End != tt.firstTest {
				t.Fatalf("train %d, test %d (first ends at %d), %v; want %d, %d, %d", len(tr), len(te), te[0].End, err, tt.train, tt.test, tt.firstTest)
			}
			if last := tr[len(tr)-1].End; te[0].End-cfg.Size+1 <= last {
				t.Errorf("test window at %d shares readings with the training window at %d", te[0].End, last)
			}
		})
	}
}

func TestConfusionScores(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                  string
		c                     Confusion
		precision, recall, f1 float64
	}{
		{name: "perfect", c: Confusion{TP: 5, TN: 95}, precision: 1, recall: 1, f1: 1},
		{name: "textbook", c: Confusion{TP: 8, FP: 2, FN: 4, TN: 86}, precision: 0.8, recall: 8.0 / 12, f1: 16.0 / 22},
		{name: "all missed", c: Confusion{FN: 3, TN: 10}, precision: nan, recall: 0, f1: 0},
		{name: "false alarms only", c: Confusion{FP: 2, TN: 10}, precision: 0, recall: nan, f1: 0},
		{name: "nothing to score", c: Confusion{TN: 10}, precision: nan, recall: nan, f1: nan},
	}
	same := func(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-12 }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, r, f := tt.c.Precision(), tt.c.Recall(), tt.c.F1(); !same(p, tt.precision) || !same(r, tt.recall) || !same(f, tt.f1) {
				t.Fatalf("precision %v recall %v F1 %v; want %v %v %v", p, r, f, tt.precision, tt.recall, tt.f1)
			}
		})
	}
	var c Confusion
	for _, d := range [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}, {false, false}} {
		c.Add(d[0], d[1])
	}
	if want := (Confusion{TP: 1, FP: 1, FN: 1, TN: 2}); c != want || c.Plus(c) != (Confusion{2, 2, 2, 4}) {
		t.Fatalf("Add: %+v, want %+v", c, want)
	}
}
