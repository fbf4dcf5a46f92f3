package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eclipse/paho.golang/paho"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestConformance(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "mqtt", stagetest.Features{
		ValidConfig:    "url: " + stagetest.MQTTURL() + "\ntopics: [edgeflow-test/conformance/#]",
		RequiredFields: []string{"topics"},
		NeedsMQTT:      true,
	})
}

func TestExpand(t *testing.T) {
	for _, tt := range []struct{ tmpl, topic, want string }{
		{"{last}", "sensors/room1/temperature", "temperature"},
		{"{2}.{3}", "sensors/room1/temperature", "room1.temperature"},
		{"{topic}", "a/b", "a/b"},
		{"fixed", "a/b", "fixed"},
		{"{9}", "a/b", ""},
		{"x-{1}", "a", "x-a"},
	} {
		if got := expand(tt.tmpl, tt.topic); got != tt.want {
			t.Errorf("expand(%q, %q) = %q, want %q", tt.tmpl, tt.topic, got, tt.want)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tt := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
	} {
		if got := matchFilter(tt.filter, tt.topic); got != tt.want {
			t.Errorf("matchFilter(%q, %q) = %v", tt.filter, tt.topic, got)
		}
	}
}

func TestParsePayload(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	opts := reading.JSONOptions{Node: "n", Stream: "temperature"}
	tests := []struct {
		name    string
		payload string
		want    []reading.Reading
		wantErr string
	}{
		{name: "bare number", payload: " 21.5\n", want: []reading.Reading{{Node: "n", Stream: "temperature", Time: at, Value: 21.5}}},
		{name: "object without stream", payload: `{"ts":1767366245,"value":2}`, want: []reading.Reading{{Node: "n", Stream: "temperature", Time: at, Value: 2}}},
		{name: "pretty object", payload: "{\n  \"stream\": \"s\",\n  \"ts\": 1767366245,\n  \"value\": 3\n}", want: []reading.Reading{{Node: "n", Stream: "s", Time: at, Value: 3}}},
		{name: "json lines", payload: `{"ts":1767366245,"value":1}` + "\n" + `{"stream":"h","ts":1767366245,"value":2}`,
			want: []reading.Reading{{Node: "n", Stream: "temperature", Time: at, Value: 1}, {Node: "n", Stream: "h", Time: at, Value: 2}}},
		{name: "array", payload: `[{"ts":1767366245,"value":1}]`, want: []reading.Reading{{Node: "n", Stream: "temperature", Time: at, Value: 1}}},
		{name: "garbage", payload: "hello", wantErr: "neither JSON nor a number"},
		{name: "empty", payload: "  ", wantErr: "empty"},
		{name: "bad json line", payload: `{"ts":1,"value":1}` + "\n{", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePayload([]byte(tt.payload), nil, opts, at)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || len(got) != 0 {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte("21.5"))
	f.Add([]byte(`{"ts":1767366245,"values":{"a":1}}`))
	f.Add([]byte("{\"ts\":1,\"value\":1}\n{\"ts\":2,\"value\":2}\n"))
	f.Add([]byte(`[{"stream":"s","ts":"2026-01-02T15:04:05Z","value":"NaN"}]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, _ = ParsePayload(payload, nil, reading.JSONOptions{Stream: "s"}, time.Unix(0, 0))
	})
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		mutate func(*Config)
		field  string
	}{
		{func(c *Config) {}, "topics"},
		{func(c *Config) { c.Topics = []string{"a/#/b"} }, "topics[0]"},
		{func(c *Config) { c.Topics = []string{"ok", "a+"} }, "topics[1]"},
		{func(c *Config) { c.Topics = []string{"a"}; c.URL = "http://x:1" }, "url"},
		{func(c *Config) { c.Topics = []string{"a"}; c.URL = "127.0.0.1:1883" }, "url"},
		{func(c *Config) { c.Topics = []string{"a"}; c.QoS = 3 }, "qos"},
		{func(c *Config) { c.Topics = []string{"a"}; c.StreamTemplate = "{level}" }, "stream_template"},
		{func(c *Config) { c.Topics = []string{"a"}; c.NodeTemplate = "{1" }, "node_template"},
		{func(c *Config) { c.Topics = []string{"a"}; c.MaxInFlight = 0 }, "max_in_flight"},
		{func(c *Config) { c.Topics = []string{"a"} }, ""},
	} {
		cfg := defaultConfig()
		tt.mutate(cfg)
		if got := stages.FieldOf(cfg.Validate()); got != tt.field {
			t.Errorf("error %v names %q, want %q", cfg.Validate(), got, tt.field)
		}
	}
}

// publisher connects a plain paho client to the test broker.
func publisher(t *testing.T, brokerURL string) *paho.Client {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		stagetest.Unavailable(t, "MQTT broker at "+brokerURL+": "+err.Error())
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: fmt.Sprintf("edgeflow-test-pub-%d", rand.Int64()), CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func publish(t *testing.T, c *paho.Client, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// running is a source reading in the background.
type running struct {
	src    *Source
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func start(t *testing.T, cfg *Config, emit stages.EmitFunc) *running {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	src, err := build(context.Background(), cfg, stages.Env{Node: stages.Node{ID: "edge-1"}, Pipeline: "test", Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src.(*Source), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.src.Read(ctx, emit) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			panic("mqtt source did not stop within 10s")
		}
		r.src.Close()
	})
}

// collector is an emit gathering readings.
type collector struct {
	mu  sync.Mutex
	got []reading.Reading
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 100)} }

func (c *collector) emit(ctx context.Context, msg *message.Message) error {
	rs, err := reading.DecodePayload(msg.Payload, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.got = append(c.got, rs...)
	c.mu.Unlock()
	c.ch <- struct{}{}
	return nil
}

func (c *collector) waitFor(t *testing.T, n int) []reading.Reading {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := append([]reading.Reading(nil), c.got...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("got %d readings within 10s, want %d: %+v", len(got), n, got)
		}
	}
}

// awaitSubscribed publishes probes until the source sees one, so the
// subscription is known to be in place.
func awaitSubscribed(t *testing.T, pub *paho.Client, topic string, c *collector) {
	t.Helper()
	for i := 0; ; i++ {
		publish(t, pub, topic, "0")
		select {
		case <-c.ch:
			c.mu.Lock()
			c.got = nil
			c.mu.Unlock()
			return
		case <-time.After(200 * time.Millisecond):
			if i == 50 {
				t.Fatal("source did not subscribe within 10s")
			}
		}
	}
}

func testPrefix() string { return fmt.Sprintf("edgeflow-test/%d", rand.Int64()) }

func TestReadingsArrive(t *testing.T) {
	brokerURL := stagetest.RequireMQTT(t)
	prefix := testPrefix()
	cfg := defaultConfig()
	cfg.URL = brokerURL
	cfg.Topics = []string{prefix + "/#"}
	cfg.StreamTemplate = "{3}.{4}"
	cfg.NodeTemplate = "{5}"
	cfg.ClientID = fmt.Sprintf("edgeflow-test-sub-%d", rand.Int64())
	col := newCollector()
	r := start(t, cfg, col.emit)
	pub := publisher(t, brokerURL)
	awaitSubscribed(t, pub, prefix+"/probe/x/n", col)

	publish(t, pub, prefix+"/room1/temperature/mote-1", "21.25")
	publish(t, pub, prefix+"/room1/env/mote-2", `{"ts":1767366245,"values":{"humidity":43.8,"temperature":30.2}}`)
	publish(t, pub, prefix+"/room2/bad/mote-3", `not a reading`)
	publish(t, pub, prefix+"/room2/x/mote-3", `{"stream":"explicit","node":"own","ts":"2026-01-02T15:04:05Z","value":1}`+"\n"+`{"ts":1767366245,"value":2}`)
	got := col.waitFor(t, 5)
	want := []struct{ node, stream string }{
		{"mote-1", "room1.temperature"}, {"mote-2", "room1.env.humidity"}, {"mote-2", "room1.env.temperature"},
		{"own", "explicit"}, {"mote-3", "room2.x"},
	}
	for i, w := range want {
		if got[i].Node != w.node || got[i].Stream != w.stream {
			t.Errorf("reading %d: node %q stream %q, want %q %q", i, got[i].Node, got[i].Stream, w.node, w.stream)
		}
	}
	if got[0].Value != 21.25 || time.Since(got[0].Time) > time.Minute {
		t.Errorf("bare number reading %+v", got[0])
	}
	if n := r.src.Skipped(); n != 1 {
		t.Errorf("skipped %d payloads, want 1", n)
	}
}

// TestAckOnlyAfterPipeline checks that a message the pipeline never acknowledged
// is delivered again to the next session, and that a nacked one is retried.
func TestAckOnlyAfterPipeline(t *testing.T) {
	brokerURL := stagetest.RequireMQTT(t)
	prefix := testPrefix()
	cfg := defaultConfig()
	cfg.URL = brokerURL
	cfg.Topics = []string{prefix + "/#"}
	cfg.ClientID = fmt.Sprintf("edgeflow-test-sub-%d", rand.Int64())
	cfg.SessionExpiry = time.Minute
	pub := publisher(t, brokerURL)

	// First session: the pipeline takes the probe, then holds the message without acking.
	held := make(chan string, 10)
	probes := newCollector()
	first := start(t, cfg, func(ctx context.Context, msg *message.Message) error {
		if strings.Contains(string(msg.Payload), `"stream":"probe"`) {
			return probes.emit(ctx, msg)
		}
		held <- string(msg.Payload)
		<-ctx.Done()
		return ctx.Err()
	})
	awaitSubscribed(t, pub, prefix+"/probe", probes)
	publish(t, pub, prefix+"/precious", "42")
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("message not received")
	}
	first.stop()

	// Second session, same client id: the broker redelivers; the first attempt is nacked.
	attempts := 0
	col := newCollector()
	start(t, cfg, func(ctx context.Context, msg *message.Message) error {
		if !strings.Contains(string(msg.Payload), `"stream":"precious"`) {
			return nil
		}
		if attempts++; attempts == 1 {
			return fmt.Errorf("sink down: %w", stages.ErrNacked)
		}
		return col.emit(ctx, msg)
	})
	got := col.waitFor(t, 1)
	if got[0].Value != 42 || attempts != 2 {
		t.Fatalf("got %+v after %d attempts", got, attempts)
	}
}

// tWriter sends log lines to the test log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestStopsPromptlyWithFullInbox(t *testing.T) {
	brokerURL := stagetest.RequireMQTT(t)
	prefix := testPrefix()
	cfg := defaultConfig()
	cfg.URL = brokerURL
	cfg.Topics = []string{prefix + "/#"}
	cfg.ClientID = fmt.Sprintf("edgeflow-test-sub-%d", rand.Int64())
	cfg.QoS = 0 // not limited by the receive maximum: floods the inbox
	cfg.MaxInFlight = 1
	pub := publisher(t, brokerURL)
	probes := newCollector()
	blocked := make(chan struct{}, 100)
	r := start(t, cfg, func(ctx context.Context, msg *message.Message) error {
		if strings.Contains(string(msg.Payload), `"stream":"probe"`) {
			return probes.emit(ctx, msg)
		}
		blocked <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	awaitSubscribed(t, pub, prefix+"/probe", probes)
	for i := range 20 {
		publish(t, pub, prefix+"/flood", fmt.Sprint(i))
	}
	<-blocked
	time.Sleep(100 * time.Millisecond)
	begin := time.Now()
	r.stop()
	if took := time.Since(begin); took > 3*time.Second {
		t.Fatalf("stopping took %v", took)
	}
}
