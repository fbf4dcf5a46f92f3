package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// httpGet returns the status and body of url, or 0 when nothing answers.
func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers 200, and returns the last body.
func waitReady(t *testing.T, base string, errOut fmt.Stringer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := httpGet(base + "/readyz")
		if code == http.StatusOK {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s; stderr:\n%s", code, body, errOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuf is a bytes.Buffer safe for a writer and a reader at once.
type syncBuf struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuf() *syncBuf { return &syncBuf{mu: make(chan struct{}, 1)} }

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// sinkCounted matches a sink counter that counted something.
var sinkCounted = regexp.MustCompile(`(?m)^edgeflow_stage_messages_in_total\{node="gw-m",pipeline="steady",stage="rt-sink",step="sinks\[0\]"\} [1-9]`)

func TestRunServesMetricsAndHealth(t *testing.T) {
	dir := t.TempDir()
	file := writePipeline(t, dir, "steady.yaml", `name: steady
sources:
  - type: rt-src
    every: 5ms
sinks:
  - type: rt-sink
`)
	addr := freeAddr(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := newSyncBuf()
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"run", "--node-id", "gw-m", "--data-dir", dir, "--metrics-addr", addr, file},
			stdio{in: strings.NewReader(""), out: io.Discard, err: errOut})
	}()
	body := waitReady(t, base, errOut)
	var ready struct {
		Status string
		Checks []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || ready.Status != "ready" || len(ready.Checks) != 1 || ready.Checks[0].Name != "pipelines" {
		t.Errorf("/readyz body %s: want ready with the pipelines check only (no kafka step)", body)
	}
	if code, _ := httpGet(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	// Wait for messages to be counted, then read the metrics.
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, metrics = httpGet(base + "/metrics")
		if sinkCounted.MatchString(metrics) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks the sink counter:\n%s", metrics)
		}
	}
	for _, want := range []string{
		`edgeflow_stage_messages_out_total{node="gw-m",pipeline="steady",stage="rt-src",step="sources[0]"}`,
		`edgeflow_stage_duration_seconds_bucket{node="gw-m",op="write",pipeline="steady",stage="rt-sink",step="sinks[0]",le="0.001"}`,
		`target_info{`, `edgeflow_node_id="gw-m"`,
		"process_resident_memory_bytes", "go_memstats_heap_alloc_bytes",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, errOut)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("edgeflow run did not stop")
	}
	if code, _ := httpGet(base + "/healthz"); code != 0 {
		t.Errorf("/healthz answered %d after exit, want the server gone", code)
	}
}

func TestRunMetricsAddrErrors(t *testing.T) {
	dir := t.TempDir()
	file := writePipeline(t, dir, "p.yaml", "name: p\nsources:\n  - {type: rt-src, count: 1}\nsinks:\n  - type: rt-sink\n")
	var errOut bytes.Buffer
	code := runMain(context.Background(), []string{"run", "--node-id", "gw-m", "--data-dir", dir, "--metrics-addr", "9464", file},
		stdio{in: strings.NewReader(""), out: io.Discard, err: &errOut})
	if code != 2 || !strings.Contains(errOut.String(), `--metrics-addr: "9464" is not host:port`) {
		t.Errorf("exit %d, stderr %q; want 2 naming the flag", code, errOut.String())
	}
}

// TestRunReadyWithKafka runs generate → encode → kafka against the real broker
// and checks /readyz passes with the kafka check and the publish metrics.
func TestRunReadyWithKafka(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	dir := t.TempDir()
	topic := fmt.Sprintf("edgeflow.metrics-test.%d", time.Now().UnixNano())
	file := writePipeline(t, dir, "kafka.yaml", fmt.Sprintf(`name: to-kafka
sources:
  - type: generate
    realtime: true
    speedup: 600
    sensors:
      - {name: temperature, kind: temperature, interval: 1s}
stages:
  - type: encode
    codec: zstd
    block_size: 50
    max_age: 1s
sinks:
  - type: kafka
    topic: %s
`, topic))
	addr := freeAddr(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := newSyncBuf()
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"run", "--node-id", "gw-k", "--data-dir", dir, "--brokers", strings.Join(brokers, ","),
			"--flush-interval", "100ms", "--metrics-addr", addr, file}, stdio{in: strings.NewReader(""), out: io.Discard, err: errOut})
	}()
	body := waitReady(t, base, errOut)
	if !strings.Contains(body, `{"name":"kafka","ok":true}`) || !strings.Contains(body, `{"name":"pipelines","ok":true}`) {
		t.Errorf("/readyz body %s: want the kafka and pipelines checks passing", body)
	}
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, metrics = httpGet(base + "/metrics")
		if strings.Contains(metrics, `edgeflow_kafka_publish_duration_seconds_count{topic="`+topic+`"}`) &&
			strings.Contains(metrics, `edgeflow_encode_compression_ratio{codec="zstd",node="gw-k"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks the publish histogram or the compression ratio:\n%s\nstderr:\n%s", metrics, errOut)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("edgeflow run did not stop")
	}
}

// TestTailServesMetricsAndHealth consumes a topic of the real broker with
// --metrics-addr and checks /readyz (the group joined) and the consumer metrics.
func TestTailServesMetricsAndHealth(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	topic := fmt.Sprintf("edgeflow.tail-metrics-test.%d", time.Now().UnixNano())
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(topic, message.NewMessage("1", []byte("not a frame"))); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := newSyncBuf()
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"tail", "--brokers", strings.Join(brokers, ","), "--from-beginning", "--metrics-addr", addr, topic},
			stdio{in: strings.NewReader(""), out: io.Discard, err: errOut})
	}()
	body := waitReady(t, base, errOut)
	if !strings.Contains(body, `{"name":"kafka","ok":true}`) || !strings.Contains(body, `{"name":"consumer","ok":true}`) {
		t.Errorf("/readyz body %s: want the kafka and consumer checks passing", body)
	}
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, metrics = httpGet(base + "/metrics")
		if strings.Contains(metrics, `edgeflow_consumer_decode_errors_total{group="edgeflow-tail-`) &&
			regexp.MustCompile(`(?m)^edgeflow_consumer_messages_total\{group="edgeflow-tail-[0-9a-f]+",topic="`+regexp.QuoteMeta(topic)+`"\} 1$`).MatchString(metrics) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks the consumer counters:\n%s\nstderr:\n%s", metrics, errOut)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("edgeflow tail did not stop")
	}
}

// TestDemoServesMetrics runs the demo with --metrics-addr and checks that
// /readyz turns ready and /metrics shows every node and the consumer.
func TestDemoServesMetrics(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	errOut := newSyncBuf()
	done := make(chan int, 1)
	go func() {
		done <- runMain(context.Background(), []string{"demo", "--duration", "4s", "--listen", "127.0.0.1:0", "--nodes", "2",
			"--speedup", "600", "--metrics-addr", addr}, stdio{in: strings.NewReader(""), out: io.Discard, err: errOut})
	}()
	body := waitReady(t, base, errOut)
	for _, check := range []string{"pipelines", "kafka", "consumer"} {
		if !strings.Contains(body, `{"name":"`+check+`","ok":true}`) {
			t.Errorf("/readyz body %s lacks the passing check %s", body, check)
		}
	}
	var metrics string
	want := []string{
		`edgeflow_stage_messages_in_total{node="node-1",pipeline="demo",stage="encode",step="stages[0]"}`,
		`edgeflow_stage_messages_in_total{node="node-2",pipeline="demo",stage="encode",step="stages[0]"}`,
		`edgeflow_encode_compression_ratio{codec="zstd",node="node-2",pipeline="demo",stage="encode",step="stages[0]"}`,
		`edgeflow_kafka_publish_duration_seconds_count{topic="edgeflow.frames"}`,
		`edgeflow_consumer_readings_total{group="edgeflow-demo",topic="edgeflow.frames"}`,
		`edgeflow_consumer_lag_messages{group="edgeflow-demo",topic="edgeflow.frames"}`,
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, metrics = httpGet(base + "/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(metrics, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", missing, metrics)
		}
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, errOut)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("edgeflow demo did not end")
	}
}

func TestKafkaClusters(t *testing.T) {
	load := func(name, sinks string) *pipelines.Pipeline {
		p, err := pipelines.Load(name+".yaml", []byte("name: "+name+"\nsources:\n  - {type: generate}\nsinks:\n"+sinks))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	node := []string{"10.0.0.1:9092"}
	tests := []struct {
		name  string
		pipes []*pipelines.Pipeline
		want  string
	}{
		{"no kafka step", []*pipelines.Pipeline{load("a", "  - {type: stdout}\n")}, ""},
		{"node brokers once", []*pipelines.Pipeline{
			load("a", "  - {type: kafka, topic: t1}\n"), load("b", "  - {type: kafka, topic: t2}\n")}, "10.0.0.1:9092"},
		{"own brokers too", []*pipelines.Pipeline{
			load("a", "  - {type: kafka, topic: t1}\n  - {type: kafka, topic: t2, brokers: [k1:9092, k2:9092]}\n")},
			"10.0.0.1:9092 k1:9092,k2:9092"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range kafkaClusters(tt.pipes, node) {
				got = append(got, strings.Join(c, ","))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("clusters %q, want %q", s, tt.want)
			}
		})
	}
}

// TestReadyzFlipsWithPipelineAndBroker checks /readyz against a real broker:
// 503 naming the pipelines before they run, 200 while they run and the broker
// answers, 503 naming the pipeline once it drained, and 503 naming kafka when
// a cluster does not answer.
func TestReadyzFlipsWithPipelineAndBroker(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	ctx := context.Background()
	p, err := pipelines.Load("steady.yaml", []byte("name: steady\nsources:\n  - {type: rt-src, every: 5ms}\nsinks:\n  - type: rt-sink\n"))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := startEndpoints(ctx, "127.0.0.1:0", telemetry.Config{}, telemetry.Process{Role: telemetry.RoleEdge, NodeID: "gw-r"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.stop()
	base := "http://" + ep.server.Addr()
	rt := edge.NewRuntime(stages.Node{ID: "gw-r", Brokers: brokers}, nil, pipelines.WithDrainTimeout(5*time.Second))
	ep.addCheck("pipelines", rt.Ready)
	ep.addKafkaCheck(brokers)
	ep.serve()

	code, body := httpGet(base + "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"name":"pipelines","ok":false,"error":"pipelines not started"`) ||
		!strings.Contains(body, `{"name":"kafka","ok":true}`) {
		t.Errorf("before the pipelines run: %d %s; want 503 naming pipelines, kafka ok", code, body)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(runCtx, []*pipelines.Pipeline{p})
		done <- err
	}()
	waitReady(t, base, newSyncBuf())
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	code, body = httpGet(base + "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `pipeline \"steady\" is stopped`) {
		t.Errorf("after the drain: %d %s; want 503 naming the stopped pipeline", code, body)
	}

	dead := deadBrokerReadyz(t)
	code, body = httpGet(dead)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"name":"kafka","ok":false`) {
		t.Errorf("with a broker that does not answer: %d %s; want 503 naming kafka", code, body)
	}
}

// deadBrokerReadyz serves a /readyz whose only check is the Kafka check
// of an address nothing listens on, and returns its URL.
func deadBrokerReadyz(t *testing.T) string {
	t.Helper()
	e, err := startEndpoints(context.Background(), "127.0.0.1:0", telemetry.Config{}, telemetry.Process{Role: telemetry.RoleCloud}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.stop() })
	e.addKafkaCheck([]string{freeAddr(t)})
	e.serve()
	return "http://" + e.server.Addr() + "/readyz"
}
