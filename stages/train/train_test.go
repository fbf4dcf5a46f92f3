package train

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func newTestTrainer(t *testing.T, edit func(*Config)) *LocalTrainer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Features = []string{"env.humidity", "env.temperature"}
	cfg.FeatureMean = []float64{40, 25}
	cfg.FeatureScale = []float64{10, 5}
	cfg.MinExamples = 4
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: the stage only follows the topic once started.
	env := stages.Env{Node: stages.Node{ID: "edge-1", Brokers: []string{"127.0.0.1:1"}}, Logger: slog.New(slog.DiscardHandler)}
	p, err := build(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	s := p.(*LocalTrainer)
	t.Cleanup(func() { s.Close() })
	return s
}

// rows are CSV-like rows (humidity, temperature, label) as readings messages.
func readingsMessage(t0 time.Time, rows [][3]float64) []reading.Reading {
	var rs []reading.Reading
	for i, r := range rows {
		ts := t0.Add(time.Duration(i) * time.Second)
		l := map[string]string{"label": fmt.Sprint(r[2])}
		rs = append(rs,
			reading.Reading{Node: "edge-1", Stream: "env.humidity", Time: ts, Value: r[0], Labels: l},
			reading.Reading{Node: "edge-1", Stream: "env.temperature", Time: ts, Value: r[1], Labels: l})
	}
	return rs
}

func TestExamplesFromReadings(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		readings []reading.Reading
		split    int // readings in the first message; the rest in a second
		want     int
		skipped  int
	}{
		{"two rows in one message", readingsMessage(t0, [][3]float64{{43, 30, 0}, {20, 45, 1}}), 4, 2, 0},
		{"a row split over two messages", readingsMessage(t0, [][3]float64{{43, 30, 0}, {20, 45, 1}}), 1, 2, 0},
		{"label out of range", readingsMessage(t0, [][3]float64{{43, 30, 7}}), 2, 0, 1},
		{"other streams ignored", append(readingsMessage(t0, [][3]float64{{43, 30, 0}}),
			reading.Reading{Node: "edge-1", Stream: "env.voltage", Time: t0, Value: 3}), 3, 1, 0},
		{"a feature missing", readingsMessage(t0, [][3]float64{{43, 30, 0}})[:1], 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestTrainer(t, nil)
			for _, part := range [][]reading.Reading{tc.readings[:tc.split], tc.readings[tc.split:]} {
				if len(part) == 0 {
					continue
				}
				if out, err := s.Process(context.Background(), reading.NewMessage(part)); err != nil || len(out) != 0 {
					t.Fatalf("Process: %d messages, %v; want none, nil", len(out), err)
				}
			}
			if got := s.Examples(); got != tc.want {
				t.Errorf("examples %d, want %d", got, tc.want)
			}
			if s.skipped != tc.skipped {
				t.Errorf("skipped %d, want %d", s.skipped, tc.skipped)
			}
		})
	}
}

func TestMaxExamplesKeepsTheLatest(t *testing.T) {
	s := newTestTrainer(t, func(c *Config) { c.MaxExamples = 3; c.MinExamples = 1 })
	rows := [][3]float64{{10, 0, 0}, {20, 0, 0}, {30, 0, 1}, {40, 0, 1}, {50, 0, 0}}
	if _, err := s.Process(context.Background(), reading.NewMessage(readingsMessage(time.Unix(0, 0), rows))); err != nil {
		t.Fatal(err)
	}
	d := s.dataset()
	var hum []float32
	for i := range d.Len() {
		hum = append(hum, d.Row(i)[0]*10+40)
	}
	if want := []float32{40, 50, 30}; fmt.Sprint(hum) != fmt.Sprint(want) { // ring: 4th and 5th overwrote 1st and 2nd
		t.Errorf("humidity kept %v, want %v", hum, want)
	}
}

func TestTrainsWhenSelected(t *testing.T) {
	global, err := model.NewMLP(1, 2, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][3]float64
	for i := range 40 {
		label := float64(i % 2)
		rows = append(rows, [3]float64{40 + 10*label, 25 - 5*label, label})
	}
	future := time.Now().Add(time.Minute)
	tests := []struct {
		name  string
		g     flkafka.GlobalModel
		train bool
	}{
		{"selected", flkafka.GlobalModel{Round: 3, Version: 2, Selected: []string{"edge-1", "edge-2"}, Deadline: future}, true},
		{"not selected", flkafka.GlobalModel{Round: 3, Selected: []string{"edge-2"}, Deadline: future}, false},
		{"past the deadline", flkafka.GlobalModel{Round: 3, Selected: []string{"edge-1"}, Deadline: time.Now().Add(-time.Second)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestTrainer(t, func(c *Config) {
				c.Epochs = 3
				c.Quantization = QuantizeFloat16
				c.MinTrainTime = 50 * time.Millisecond
			})
			if _, err := s.Process(context.Background(), reading.NewMessage(readingsMessage(time.Unix(0, 0), rows))); err != nil {
				t.Fatal(err)
			}
			g := tc.g
			g.Name, g.Model = "global", global
			start := time.Now()
			s.onModel(context.Background(), &g)
			out, err := s.Flush(context.Background(), stages.FlushDue)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.train {
				if len(out) != 0 {
					t.Fatalf("%d updates, want none", len(out))
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("%d updates, want 1", len(out))
			}
			if took := time.Since(start); took < 50*time.Millisecond {
				t.Errorf("training took %v, want at least min_train_time 50ms", took)
			}
			msg := out[0]
			if msg.Metadata.Get(stages.MetaKind) != flkafka.KindUpdate || msg.Metadata.Get(flkafka.HeaderRound) != "3" ||
				msg.Metadata.Get(stages.MetaNode) != "edge-1" {
				t.Errorf("metadata %v", msg.Metadata)
			}
			u, err := model.DecodeUpdate(msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if u.Round != 3 || u.Node != "edge-1" || u.Examples != 40 || u.Kind != model.KindDelta {
				t.Errorf("update round %d node %s examples %d kind %s", u.Round, u.Node, u.Examples, u.Kind)
			}
			var names []string
			for _, m := range u.Metrics {
				names = append(names, m.Name)
			}
			if got := strings.Join(names, ","); got != "train_loss,train_accuracy,train_seconds,eval_loss,eval_accuracy,model_version" {
				t.Errorf("metrics %s", got)
			}
			if v, _ := u.Metric(MetricModelVersion); v != 2 {
				t.Errorf("model_version %v, want 2", v)
			}
			// The same round again is not trained twice.
			s.onModel(context.Background(), &g)
			if out, _ := s.Flush(context.Background(), stages.FlushDue); len(out) != 0 {
				t.Errorf("round 3 trained twice")
			}
		})
	}
}

func TestWindowsOfTheNodesStream(t *testing.T) {
	s := newTestTrainer(t, func(c *Config) { c.Window = Window{Size: 3, Warmup: 2, MinStd: 0.05, Clip: 10} })
	if s.dim != 2*(2*3-1) {
		t.Fatalf("input width %d, want 2 features × (2·3 − 1) = 10", s.dim)
	}
	rows := [][3]float64{{40, 25, 0}, {41, 25, 0}, {40, 26, 0}, {42, 25, 0}, {60, 30, 1}, {41, 25, 0}}
	rs := readingsMessage(time.Unix(0, 0), rows)
	// A second node's stream is windowed on its own: its 2 rows only warm up.
	for _, r := range readingsMessage(time.Unix(0, 0), rows[:2]) {
		r.Node = "mote-2"
		rs = append(rs, r)
	}
	if _, err := s.Process(context.Background(), reading.NewMessage(rs)); err != nil {
		t.Fatal(err)
	}
	d := s.dataset()
	if d.Len() != 4 || d.Dim != 10 { // rows 2…5 end a window after 2 of warm-up
		t.Fatalf("%d examples of %d features, want 4 of 10", d.Len(), d.Dim)
	}
	if got := fmt.Sprint(d.Labels); got != "[0 0 1 0]" {
		t.Errorf("labels %s, want the newest row's: [0 0 1 0]", got)
	}
	// The anomalous row stands out: its humidity z-score is the window's last
	// humidity feature, clipped to 10.
	if z := d.Row(2)[2]; z != 10 {
		t.Errorf("z-score of humidity 60 after 40…42: %v, want clipped to 10", z)
	}
}

func TestValidateWindow(t *testing.T) {
	tests := []struct {
		name  string
		w     Window
		field string
	}{
		{"off", Window{}, ""},
		{"size 8", Window{Size: 8, Warmup: 120, MinStd: 0.05, Clip: 10}, ""},
		{"size 1", Window{Size: 1, Warmup: 120, MinStd: 0.05, Clip: 10}, "window.size"},
		{"warmup short", Window{Size: 8, Warmup: 6, MinStd: 0.05, Clip: 10}, "window.warmup"},
		{"min_std 0", Window{Size: 8, Warmup: 7, Clip: 10}, "window.min_std"},
		{"clip 0", Window{Size: 8, Warmup: 7, MinStd: 0.05}, "window.clip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Features = []string{"a"}
			cfg.Window = tc.w
			if got := stages.FieldOf(cfg.Validate()); got != tc.field {
				t.Errorf("Validate names %q, want %q", got, tc.field)
			}
		})
	}
}
