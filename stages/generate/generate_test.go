package generate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestConformance(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "generate", stagetest.Features{})
}

// newSource decodes a YAML config over the defaults, validates and builds it.
func newSource(t *testing.T, cfgYAML string) *Source {
	t.Helper()
	cfg := defaultConfig()
	if err := yaml.Unmarshal([]byte(cfgYAML), cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	src, err := build(context.Background(), cfg, stages.Env{Node: stages.Node{ID: "node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source)
}

// collect runs src to the end, acking everything, and returns the messages.
func collect(t *testing.T, src *Source) []*message.Message {
	t.Helper()
	var msgs []*message.Message
	err := src.Read(context.Background(), func(ctx context.Context, msg *message.Message) error {
		msgs = append(msgs, msg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func readingsOf(t *testing.T, msgs []*message.Message) []reading.Reading {
	t.Helper()
	var rs []reading.Reading
	for _, m := range msgs {
		if m.Metadata.Get(stages.MetaKind) != stages.KindReadings {
			t.Fatalf("message kind %q", m.Metadata.Get(stages.MetaKind))
		}
		var err error
		if rs, err = reading.DecodePayload(m.Payload, rs); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

const dayConfig = `
seed: 42
start: 2026-01-01T00:00:00Z
realtime: false
duration: 24h
interval: 1m
anomaly_rate: 0.01
sensors:
  - name: temperature
  - name: humidity
    interval: 2m
  - name: pressure
  - name: vibration
    kind: vibration
    interval: 30s
    labels: {axis: x}
`

func TestSameSeedSameData(t *testing.T) {
	a := collect(t, newSource(t, dayConfig))
	b := collect(t, newSource(t, dayConfig))
	if len(a) != len(b) {
		t.Fatalf("%d vs %d messages", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Payload, b[i].Payload) {
			t.Fatalf("message %d differs:\n%s\n%s", i, a[i].Payload, b[i].Payload)
		}
	}
	c := collect(t, newSource(t, strings.Replace(dayConfig, "seed: 42", "seed: 43", 1)))
	if bytes.Equal(a[10].Payload, c[10].Payload) {
		t.Fatal("another seed gives the same data")
	}
}

func TestDayOfReadings(t *testing.T) {
	msgs := collect(t, newSource(t, dayConfig))
	rs := readingsOf(t, msgs)
	byStream := map[string][]reading.Reading{}
	anomalies := map[string]int{}
	for _, r := range rs {
		byStream[r.Stream] = append(byStream[r.Stream], r)
		if r.Node != "node-1" {
			t.Fatalf("node %q", r.Node)
		}
		if a := r.Labels["anomaly"]; a != "" {
			anomalies[a]++
		}
	}
	// Ticks: 1440 per minute sensor, 720 for humidity, 2880 for vibration, minus dropouts.
	for stream, ticks := range map[string]int{"temperature": 1440, "humidity": 720, "pressure": 1440, "vibration": 2880} {
		n := len(byStream[stream])
		if n > ticks || n < ticks*7/10 {
			t.Errorf("%s: %d readings, want about %d", stream, n, ticks)
		}
	}
	// One message per tick: the vibration sensor ticks every 30 s, so 2880 messages at most.
	if len(msgs) > 2880 || len(msgs) < 2000 {
		t.Errorf("%d messages", len(msgs))
	}
	for _, kind := range anomalyKinds {
		if anomalies[kind] == 0 {
			t.Errorf("no %s anomaly in a day at rate 0.01 (got %v)", kind, anomalies)
		}
	}
	decimals := map[string]int{"temperature": 2, "humidity": 2, "pressure": 1, "vibration": 4}
	for stream, d := range decimals {
		p := math.Pow10(d)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range byStream[stream] {
			if math.Round(r.Value*p)/p != r.Value {
				t.Fatalf("%s value %v has more than %d decimals", stream, r.Value, d)
			}
			if r.Labels["anomaly"] == "" {
				lo, hi = math.Min(lo, r.Value), math.Max(hi, r.Value)
			}
		}
		t.Logf("%s: %d readings in [%v, %v]", stream, len(byStream[stream]), lo, hi)
	}
	temps := byStream["temperature"]
	if lo, hi := minMax(temps); lo < 10 || hi > 35 || hi-lo < 3 {
		t.Errorf("temperature range [%v, %v] unrealistic for a day", lo, hi)
	}
	if byStream["vibration"][0].Labels["axis"] != "x" {
		t.Errorf("sensor labels missing: %v", byStream["vibration"][0].Labels)
	}
	for i := 1; i < len(temps); i++ {
		if !temps[i].Time.After(temps[i-1].Time) {
			t.Fatal("times not increasing")
		}
	}
	if got := temps[0].Time; !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) && temps[0].Labels["anomaly"] == "" {
		t.Errorf("first reading at %v", got)
	}
}

func minMax(rs []reading.Reading) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		if r.Labels["anomaly"] == "" {
			lo, hi = math.Min(lo, r.Value), math.Max(hi, r.Value)
		}
	}
	return lo, hi
}

func TestCountLimit(t *testing.T) {
	src := newSource(t, "realtime: false\nanomaly_rate: 0\ncount: 25\n")
	rs := readingsOf(t, collect(t, src))
	if len(rs) != 50 {
		t.Fatalf("%d readings, want 25 per sensor", len(rs))
	}
}

func TestNackRetriesSameMessage(t *testing.T) {
	src := newSource(t, "realtime: false\ncount: 3\nanomaly_rate: 0\nsensors: [{name: cpu}]\n")
	var payloads []string
	calls := 0
	err := src.Read(context.Background(), func(ctx context.Context, msg *message.Message) error {
		calls++
		payloads = append(payloads, string(msg.Payload))
		if calls == 2 {
			return fmt.Errorf("sink down: %w", stages.ErrNacked)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 4 || payloads[1] != payloads[2] || payloads[0] == payloads[1] {
		t.Fatalf("payloads %q: want the nacked one repeated", payloads)
	}
}

func TestRealtimePacing(t *testing.T) {
	src := newSource(t, "interval: 20ms\ncount: 6\nanomaly_rate: 0\nsensors: [{name: cpu}]\n")
	begin := time.Now()
	msgs := collect(t, src)
	if took := time.Since(begin); len(msgs) != 6 || took < 90*time.Millisecond {
		t.Fatalf("%d messages in %v; want 6 paced 20ms apart", len(msgs), took)
	}
	src = newSource(t, "interval: 1s\nspeedup: 50\ncount: 6\nanomaly_rate: 0\nsensors: [{name: cpu}]\n")
	begin = time.Now()
	collect(t, src)
	if took := time.Since(begin); took < 90*time.Millisecond || took > 2*time.Second {
		t.Fatalf("took %v; want about 100ms at speedup 50", took)
	}
}

func TestReadStopsOnCancel(t *testing.T) {
	src := newSource(t, "realtime: false\n")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
		if n++; n == 100 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled {
		t.Fatalf("Read returned %v, want context.Canceled", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		yaml, field string
	}{
		{"speedup: 0", "speedup"},
		{"count: -1", "count"},
		{"interval: 0s", "interval"},
		{"anomaly_rate: 2", "anomaly_rate"},
		{"anomalies: [spike, wobble]", "anomalies[1]"},
		{"sensors: []", "sensors"},
		{"sensors: [{name: a}, {name: a}]", "sensors[1].name"},
		{"sensors: [{name: a, kind: smell}]", "sensors[0].kind"},
		{"sensors: [{name: a, decimals: 20}]", "sensors[0].decimals"},
		{"sensors: [{name: a, min: 5, max: 1}]", "sensors[0].min"},
		{"sensors: [{name: ''}]", "sensors[0].name"},
		{"start: yesterday", "start"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			cfg := defaultConfig()
			if err := yaml.Unmarshal([]byte(tt.yaml), cfg); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if got := stages.FieldOf(err); got != tt.field {
				t.Fatalf("error %v names field %q, want %q", err, got, tt.field)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := defaultConfig()
	cfg.Realtime = false
	cfg.Count = b.N
	src, _ := build(context.Background(), cfg, stages.Env{})
	b.ReportAllocs()
	b.ResetTimer()
	_ = src.Read(context.Background(), func(context.Context, *message.Message) error { return nil })
}
