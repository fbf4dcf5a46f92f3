package edge

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/edgeflow/edgeflow/internal/fleet"
)

type fixedSampler struct{ capacity, free fleet.HeartbeatResources }

func (s fixedSampler) Sample() (fleet.HeartbeatResources, fleet.HeartbeatResources, error) {
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

func TestHeartbeaterRun(t *testing.T) {
	pub := &recordingPublisher{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h, err := NewHeartbeater(HeartbeatConfig{
		NodeID: "n1", Labels: map[string]string{"zone": "a"}, Version: "test", Interval: 10 * time.Millisecond,
		Publisher: pub, Sampler: fixedSampler{fleet.HeartbeatResources{MilliCPU: 2000}, fleet.HeartbeatResources{MilliCPU: 500}},
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
		hb, err := fleet.DecodeHeartbeat(m.Payload)
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
	want := HeartbeatSettings{Interval: 2 * time.Second, Topic: "hb", Accelerators: []fleet.Accelerator{{Kind: "npu", Count: 2}}}
	if !reflect.DeepEqual(s.Heartbeat, want) {
		t.Fatalf("heartbeat = %+v, want %+v", s.Heartbeat, want)
	}
	if err := (HeartbeatSettings{Interval: -1, Accelerators: []fleet.Accelerator{{Count: 1}}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "heartbeat.interval") || !strings.Contains(err.Error(), "heartbeat.accelerators[0]") {
		t.Fatalf("Validate = %v", err)
	}
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
