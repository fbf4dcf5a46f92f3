package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

// Service names and attribute keys of edgeflow's spans (docs/observability.md).
const (
	serviceEdge   = "edgeflow-edge"
	serviceCloud  = "edgeflow-cloud"
	attrNodeID    = "edgeflow.node.id"
	attrPipeline  = "edgeflow.pipeline"
	tagSpanKind   = "span.kind"
	tracePipeline = "e2e-trace"
)

// TestTraceFromEdgeToCloud runs an edge node (edgeflow run: generate → encode →
// kafka) and a cloud consumer (edgeflow tail) as two processes against the
// real Kafka broker, both exporting spans over OTLP to the real Jaeger, stops
// both with SIGTERM, and then reads the spans back through Jaeger's query API:
// one trace must hold the whole path of a reading, edge spans and cloud spans,
// each the child of the one before, with the node id and pipeline attributes.
//
// Run with -v, it logs the UI address of the trace it checked
// (internal/tools/trace-picture.sh takes the picture in docs/ of it).
func TestTraceFromEdgeToCloud(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	brokers := testenv.RequireKafka(t)
	jaeger := testenv.RequireJaeger(t)

	dir := t.TempDir()
	bin := edgeflowBinary(t, dir)

	run := randomHex(t)
	topic := "edgeflow.e2e.trace-" + run
	node := "e2e-trace-" + run
	pipelineFile := filepath.Join(dir, "trace.yaml")
	// One reading every 50 ms in frames of 10: a frame (and so a trace from an
	// ingest to a consume) about every half second.
	pipelineYAML := fmt.Sprintf(`name: %s
sources:
  - type: generate
    realtime: true
    sensors:
      - name: temperature
        kind: temperature
        interval: 50ms
stages:
  - type: encode
    codec: zstd
    block_size: 10
    max_age: 2s
sinks:
  - type: kafka
    topic: %s
`, tracePipeline, topic)
	if err := os.WriteFile(pipelineFile, []byte(pipelineYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	env := hermeticEnv()
	brokerList := strings.Join(brokers, ",")

	edge := startProcess(t, "edgeflow run", env, bin, "run", "--otlp", jaeger.OTLPEndpoint,
		"--node-id", node, "--brokers", brokerList, "--data-dir", dir, "--flush-interval", "200ms",
		"--stats-interval", "250ms", pipelineFile)
	// The sink creates the topic with its first write; tail starts once the
	// topic is there (a consumer group that joins before the topic exists
	// does not see it appear) and reads it from the beginning, so it loses
	// nothing.
	published := regexp.MustCompile(`sinks\[0\] \(kafka\) in [1-9]`)
	waitFor(t, 60*time.Second, func() bool { return published.MatchString(edge.stderr.String()) },
		func() string { return "edgeflow run published nothing\n" + edge.String() })
	cloud := startProcess(t, "edgeflow tail", env, bin, "tail", "--otlp", jaeger.OTLPEndpoint,
		"--brokers", brokerList, "--from-beginning", topic)

	// Let readings flow end to end: tail prints one JSON line per reading.
	const wantReadings = 40
	waitFor(t, 60*time.Second, func() bool { return cloud.stdout.lines() >= wantReadings },
		func() string {
			return fmt.Sprintf("tail printed %d readings, want %d\n%s\n%s", cloud.stdout.lines(), wantReadings, edge, cloud)
		})
	edge.terminate(t)
	// Whatever the edge flushed while draining reaches the consumer shortly after.
	settle := cloud.stdout.lines()
	waitFor(t, 5*time.Second, func() bool {
		time.Sleep(500 * time.Millisecond)
		n := cloud.stdout.lines()
		stable := n == settle
		settle = n
		return stable
	}, func() string { return "tail output did not settle" })
	cloud.terminate(t)

	// Both processes exported their spans on exit; Jaeger batches for 200 ms.
	q := jaegerQuery{baseURL: jaeger.URL, client: httpClient()}
	ctx := context.Background()
	var (
		found    *jaegerTrace
		problems []string
		traces   []jaegerTrace
	)
	waitFor(t, 30*time.Second, func() bool {
		var err error
		traces, err = q.findTraces(ctx, serviceCloud, map[string]string{attrNodeID: node}, time.Hour, 50)
		if err != nil {
			problems = []string{err.Error()}
			return false
		}
		problems = []string{fmt.Sprintf("no trace of service %s with %s=%s", serviceCloud, attrNodeID, node)}
		found = nil
		var good []jaegerTrace
		for i := range traces {
			p := checkEdgeToCloudTrace(traces[i], node, topic)
			if len(p) == 0 {
				good = append(good, traces[i])
			} else if len(good) == 0 && (i == 0 || len(p) < len(problems)) {
				problems = p
			}
		}
		if len(good) == 0 {
			return false
		}
		// Of the frames with the most readings (the flush span links to them),
		// the one of median duration: a picture of the steady state, not of the
		// first frame, which waits for the topic to be created and the consumer
		// to join.
		sort.SliceStable(good, func(i, j int) bool {
			if a, b := flushInputs(good[i]), flushInputs(good[j]); a != b {
				return a > b
			}
			return good[i].duration() < good[j].duration()
		})
		most := 1
		for most < len(good) && flushInputs(good[most]) == flushInputs(good[0]) {
			most++
		}
		found = &good[most/2]
		if flushInputs(*found) < 2 {
			problems = []string{"every frame's trace has a flush span with fewer than 2 inputs (edgeflow.flush.inputs); want frames of 10 readings"}
			return false
		}
		return found != nil
	}, func() string {
		var b strings.Builder
		services, err := q.services(ctx)
		fmt.Fprintf(&b, "no trace from edge to cloud in Jaeger (%s); services %v %v\nclosest trace's problems:\n  %s\n",
			jaeger.URL, services, err, strings.Join(problems, "\n  "))
		for i, tr := range traces {
			if i == 3 {
				fmt.Fprintf(&b, "... %d more traces\n", len(traces)-3)
				break
			}
			b.WriteString(tr.outline())
		}
		fmt.Fprintf(&b, "%s\n%s", edge, cloud)
		return b.String()
	})
	// The flush span links to the ingest spans of the frame's other readings,
	// each the root of a trace of its own.
	flush, _ := found.spanNamed("flush ")
	inputs := flushInputs(*found)
	var links []string
	for _, r := range flush.References {
		if r.RefType == "FOLLOWS_FROM" {
			if r.TraceID == found.TraceID {
				t.Errorf("flush span links to span %s of its own trace; want the other readings' traces", r.SpanID)
			}
			links = append(links, r.TraceID)
		}
	}
	if len(links) != min(inputs-1, telemetry.MaxFlushLinks) {
		t.Errorf("flush span of %d inputs has %d links, want one per other input", inputs, len(links))
	}
	t.Logf("trace %s: %d spans from %s and %s; its frame holds %d readings, the flush span links to %d other traces\n%s",
		found.TraceID, len(found.Spans), serviceEdge, serviceCloud, inputs, len(links), found.outline())
	t.Logf("Jaeger UI: %s/trace/%s", jaeger.URL, found.TraceID)
}

// checkEdgeToCloudTrace returns what is wrong with tr as the trace of a reading
// from node's pipeline to the cloud consumer of topic; nil when nothing is.
// The path from the root, each span the child of the one before: edge
// ingest <source> → flush <stage> (the encoder emitted the frame that holds the
// reading) → publish <topic> (producer) → cloud consume <topic> (consumer) →
// decode; and process <stage>, the encoder taking the reading, is a child of
// the ingest span.
func checkEdgeToCloudTrace(tr jaegerTrace, node, topic string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var consume *jaegerSpan
	for i, s := range tr.Spans {
		if s.OperationName == "consume "+topic && tr.service(s) == serviceCloud {
			consume = &tr.Spans[i]
			break
		}
	}
	if consume == nil {
		return []string{fmt.Sprintf("trace %s: no span %q from %s", tr.TraceID, "consume "+topic, serviceCloud)}
	}
	// The path from the root down to consume.
	path := []jaegerSpan{*consume}
	for p := consume.parentID(); p != ""; {
		s, ok := tr.span(p)
		if !ok {
			bad("trace %s: span %q has parent %s, which is not in the trace", tr.TraceID, path[0].OperationName, p)
			break
		}
		path = append([]jaegerSpan{s}, path...)
		p = s.parentID()
		if len(path) > 50 {
			bad("trace %s: parent chain longer than 50 spans", tr.TraceID)
			break
		}
	}
	want := []struct {
		service, name string
		prefix        bool   // name is a prefix (followed by a stage id)
		kind          string // span.kind, when it matters
	}{
		{serviceEdge, "ingest ", true, ""},
		{serviceEdge, "flush ", true, ""},
		{serviceEdge, "publish " + topic, false, "producer"},
		{serviceCloud, "consume " + topic, false, "consumer"},
	}
	var names []string
	for _, s := range path {
		names = append(names, tr.service(s)+": "+s.OperationName)
	}
	if len(path) != len(want) {
		bad("trace %s: path from the root to %q is [%s], want %d spans: ingest → flush → publish → consume",
			tr.TraceID, consume.OperationName, strings.Join(names, " → "), len(want))
		return problems
	}
	for i, w := range want {
		s := path[i]
		nameOK := s.OperationName == w.name || (w.prefix && strings.HasPrefix(s.OperationName, w.name) && len(s.OperationName) > len(w.name))
		if !nameOK || tr.service(s) != w.service {
			bad("path[%d] is %q from %s, want %q%s from %s", i, s.OperationName, tr.service(s), w.name,
				map[bool]string{true: "<stage id>"}[w.prefix], w.service)
		}
		if w.kind != "" {
			if k, _ := s.tag(tagSpanKind); k != w.kind {
				bad("%q: span.kind %q, want %q", s.OperationName, k, w.kind)
			}
		}
		if v, _ := s.tag(attrNodeID); v != node {
			bad("%q: %s = %q, want %q", s.OperationName, attrNodeID, v, node)
		}
		if w.service == serviceEdge {
			if v, _ := s.tag(attrPipeline); v != tracePipeline {
				bad("%q: %s = %q, want %q", s.OperationName, attrPipeline, v, tracePipeline)
			}
		}
	}
	var process bool
	for _, c := range tr.children(path[0].SpanID) {
		if strings.HasPrefix(c.OperationName, "process ") && tr.service(c) == serviceEdge {
			process = true
			if v, _ := c.tag(attrNodeID); v != node {
				bad("%q: %s = %q, want %q", c.OperationName, attrNodeID, v, node)
			}
		}
	}
	if !process {
		bad("no %q span from %s under %q", "process <stage id>", serviceEdge, path[0].OperationName)
	}
	var decode bool
	for _, c := range tr.children(consume.SpanID) {
		decode = decode || (c.OperationName == "decode" && tr.service(c) == serviceCloud)
	}
	if !decode {
		bad("no %q span from %s under %q", "decode", serviceCloud, consume.OperationName)
	}
	return problems
}

// envBinary names an edgeflow binary to test instead of building one.
const envBinary = "EDGEFLOW_E2E_BINARY"

// edgeflowBinary builds cmd/edgeflow into dir, or returns $EDGEFLOW_E2E_BINARY.
func edgeflowBinary(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv(envBinary); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("$%s: %v", envBinary, err)
		}
		return bin
	}
	bin := filepath.Join(dir, "edgeflow")
	build := exec.Command("go", "build", "-o", bin, "./cmd/edgeflow")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/edgeflow: %v\n%s", err, out)
	}
	return bin
}

// flushInputs is the edgeflow.flush.inputs attribute of tr's flush span: how
// many readings went into the frame; 0 when there is none.
func flushInputs(tr jaegerTrace) int {
	s, ok := tr.spanNamed("flush ")
	if !ok {
		return 0
	}
	v, _ := s.tag("edgeflow.flush.inputs")
	n, _ := strconv.Atoi(v)
	return n
}

// process is an edgeflow command started as an operating-system process.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout *lineBuffer
	stderr *lineBuffer
	done   chan error
}

func startProcess(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), stdout: &lineBuffer{}, stderr: &lineBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// terminate sends SIGTERM, as an init system would, and fails the test unless
// the process exits with status 0 within 30 s.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		t.Fatalf("%s exited before SIGTERM: %v\n%s", p.name, err, p)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		if err != nil {
			t.Fatalf("%s after SIGTERM: %v\n%s", p.name, err, p)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still running 30 s after SIGTERM\n%s", p.name, p)
	}
}

// String is the process's standard error (its tail), for failure messages.
func (p *process) String() string {
	s := p.stderr.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return fmt.Sprintf("---- %s stderr ----\n%s", p.name, s)
}

// lineBuffer collects a process's output; safe for reading while it writes.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lineBuffer) lines() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Count(b.buf.Bytes(), []byte{'\n'})
}

// waitFor polls cond every 200 ms until it holds, or fails the test with
// describe() after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, describe())
		}
	}
}

// hermeticEnv is the test's environment without the OTEL_* and EDGEFLOW_*
// variables, so that only the flags the test passes configure the processes.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "EDGEFLOW_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
