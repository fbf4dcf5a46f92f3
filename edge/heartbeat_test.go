package edge

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

type fixedSampler struct{ capacity, free HeartbeatResources }

func (s fixedSampler) Sample() (HeartbeatResources, HeartbeatResources, error) {
	return s.capacity, s.free, nil
}

type recordingPublisher struct {
	mu   sync.Mutex
	msgs map[string][]*message.Message
}

func (p *recordingPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.msgs == nil {
		p.msgs = map[string][]*message.Message{}
	}
	p.msgs[topic] = append(p.msgs[topic], msgs...)
	return nil
}

func (p *recordingPublisher) Close() error { return nil }

func (p *recordingPublisher) sent(topic string) []*message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*message.Message(nil), p.msgs[topic]...)
}

func TestHeartbeatJSONRoundTrip(t *testing.T) {
	one := int64(1)
	hb := Heartbeat{
		Schema: 1, NodeID: "gw-7", Labels: map[string]string{"site": "plant-1", "zone": "a"}, Version: "v1.2.3",
		Time: time.Date(2026, 11, 27, 0, 0, 5, 123000000, time.UTC), Sequence: 42, IntervalMillis: 5000,
		Capacity:     HeartbeatResources{MilliCPU: 4000, MemoryBytes: 8 << 30, DiskBytes: 64 << 30, Accelerators: 1},
		Free:         HeartbeatResources{MilliCPU: 3100, MemoryBytes: 5 << 30, DiskBytes: 40 << 30, Accelerators: 1},
		Accelerators: []Accelerator{{Kind: "npu", Count: 1, Free: &one}},
		Pipelines:    []string{"boiler", "camera"},
	}
	data, err := json.Marshal(hb)
	if err != nil {
		t.Fatal(err)
	}
	// The field names are the documented schema (docs/topics.md).
	for _, field := range []string{`"schema":1`, `"node_id":"gw-7"`, `"seq":42`, `"interval_ms":5000`,
		`"milli_cpu":4000`, `"memory_bytes"`, `"disk_bytes"`, `"accelerators":[{"kind":"npu","count":1,"free":1}]`,
		`"pipelines":["boiler","camera"]`, `"time":"2026-11-27T00:00:05.123Z"`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("%s lacks %s", data, field)
		}
	}
	got, err := DecodeHeartbeat(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, hb) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, hb)
	}
}

func TestDecodeHeartbeatErrors(t *testing.T) {
	valid := `"node_id":"n1","time":"2026-01-01T00:00:00Z"`
	tests := []struct {
		name, json, wantField string
	}{
		{"not json", `{`, "heartbeat"},
		{"newer schema", `{"schema":2,` + valid + `}`, "schema"},
		{"no schema", `{` + valid + `}`, "schema"},
		{"bad node id", `{"schema":1,"node_id":"-x","time":"2026-01-01T00:00:00Z"}`, "node_id"},
		{"no time", `{"schema":1,"node_id":"n1"}`, "time"},
		{"negative free", `{"schema":1,` + valid + `,"free":{"milli_cpu":-1}}`, "free"},
		{"accelerator free above count", `{"schema":1,` + valid + `,"accelerators":[{"kind":"gpu","count":1,"free":2}]}`, "accelerators[0]"},
		{"empty pipeline name", `{"schema":1,` + valid + `,"pipelines":[""]}`, "pipelines[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeHeartbeat([]byte(tt.json))
			if !errors.Is(err, ErrInvalidHeartbeat) || !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("DecodeHeartbeat(%s) = %v, want an ErrInvalidHeartbeat naming %s", tt.json, err, tt.wantField)
			}
		})
	}
	if _, err := DecodeHeartbeat([]byte(`{"schema":1,` + valid + `,"added_later":true}`)); err != nil {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestHeartbeaterRun(t *testing.T) {
	pub := &recordingPublisher{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h, err := NewHeartbeater(HeartbeatConfig{
		NodeID: "n1", Labels: map[string]string{"zone": "a"}, Version: "test", Interval: 10 * time.Millisecond,
		Publisher: pub, Sampler: fixedSampler{HeartbeatResources{MilliCPU: 2000}, HeartbeatResources{MilliCPU: 500}},
		Pipelines: func() []string { return []string{"b", "a"} }, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(pub.sent(DefaultHeartbeatTopic)) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs := pub.sent(DefaultHeartbeatTopic)
	if len(msgs) < 4 {
		t.Fatalf("%d heartbeats sent, want at least 3 and a last one", len(msgs))
	}
	for i, m := range msgs {
		hb, err := DecodeHeartbeat(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if hb.Sequence != uint64(i+1) || hb.NodeID != "n1" || hb.Free.MilliCPU != 500 ||
			!reflect.DeepEqual(hb.Pipelines, []string{"a", "b"}) || hb.IntervalMillis != 10 || !hb.Time.Equal(now) {
			t.Errorf("heartbeat %d: %+v", i, hb)
		}
		if string(HeartbeatKey("", m)) != "n1" {
			t.Errorf("heartbeat %d: key %q", i, HeartbeatKey("", m))
		}
		if last := i == len(msgs)-1; hb.Stopping != last {
			t.Errorf("heartbeat %d: stopping %v", i, hb.Stopping)
		}
	}
}

func TestNewHeartbeaterErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  HeartbeatConfig
	}{
		{"no node id", HeartbeatConfig{Publisher: &recordingPublisher{}}},
		{"no publisher", HeartbeatConfig{NodeID: "n1"}},
		{"negative interval", HeartbeatConfig{NodeID: "n1", Publisher: &recordingPublisher{}, Interval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHeartbeater(tt.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestNodeFileHeartbeat(t *testing.T) {
	s, err := ParseNodeFile("node.yaml", []byte(`id: n1
heartbeat:
  interval: 2s
  topic: hb
  accelerators:
    - {kind: npu, count: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := HeartbeatSettings{Interval: 2 * time.Second, Topic: "hb", Accelerators: []Accelerator{{Kind: "npu", Count: 2}}}
	if !reflect.DeepEqual(s.Heartbeat, want) {
		t.Fatalf("heartbeat = %+v, want %+v", s.Heartbeat, want)
	}
	if err := (HeartbeatSettings{Interval: -1, Accelerators: []Accelerator{{Count: 1}}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "heartbeat.interval") || !strings.Contains(err.Error(), "heartbeat.accelerators[0]") {
		t.Fatalf("Validate = %v", err)
	}
}

func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add([]byte(`{"schema":1,"node_id":"n1","time":"2026-01-01T00:00:00Z","capacity":{"milli_cpu":1000},"pipelines":["a"]}`))
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hb, err := DecodeHeartbeat(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeHeartbeat(again); err != nil {
			t.Fatalf("re-encoded heartbeat does not decode: %v", err)
		}
	})
}

func TestResolveHeartbeat(t *testing.T) {
	file := HeartbeatSettings{Interval: 2 * time.Second, Topic: "file.topic"}
	tests := []struct {
		name         string
		file         HeartbeatSettings
		env          map[string]string
		flagInterval string
		flagTopic    string
		want         HeartbeatSettings
		wantEnabled  bool
		wantErr      string
	}{
		{name: "defaults", want: HeartbeatSettings{Interval: DefaultHeartbeatInterval, Topic: DefaultHeartbeatTopic}, wantEnabled: true},
		{name: "node file", file: file, want: file, wantEnabled: true},
		{name: "env over file", file: file, env: map[string]string{EnvHeartbeatInterval: "1s", EnvHeartbeatTopic: "env.topic"},
			want: HeartbeatSettings{Interval: time.Second, Topic: "env.topic"}, wantEnabled: true},
		{name: "flag over env", file: file, env: map[string]string{EnvHeartbeatInterval: "1s"}, flagInterval: "3s",
			want: HeartbeatSettings{Interval: 3 * time.Second, Topic: "file.topic"}, wantEnabled: true},
		{name: "flag 0 turns off", file: file, flagInterval: "0", wantEnabled: false, want: file},
		{name: "bad env", env: map[string]string{EnvHeartbeatInterval: "soon"}, wantErr: EnvHeartbeatInterval},
		{name: "negative flag", flagInterval: "-1s", wantErr: "--heartbeat-interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			got, enabled, err := ResolveHeartbeat(tt.file, lookup, tt.flagInterval, tt.flagTopic)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || enabled != tt.wantEnabled || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ResolveHeartbeat = %+v, %v, %v; want %+v, %v", got, enabled, err, tt.want, tt.wantEnabled)
			}
		})
	}
}
