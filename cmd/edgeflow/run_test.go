package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// Test-only stages for the in-process tests of edgeflow run: rt-src emits
// count messages then waits for its context; rt-batch buffers until flushed;
// rt-sink appends payloads to runSinkOutput.

type rtRunSrcConfig struct {
	Count int           `yaml:"count" doc:"Messages to emit."`
	Every time.Duration `yaml:"every" doc:"If set, emit without end, one message per period."`
}

func (c *rtRunSrcConfig) Validate() error { return nil }

type rtRunNoConfig struct{}

func (c *rtRunNoConfig) Validate() error { return nil }

var runSinkOutput struct {
	sync.Mutex
	lines   []string
	emitted int // messages the source got an ack for
}

type rtRunSource struct {
	count int
	every time.Duration
}

func (s rtRunSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	for i := 0; i < s.count || s.every > 0; i++ {
		if s.every > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.every):
			}
		}
		m := message.NewMessage(fmt.Sprint(i), message.Payload(fmt.Sprint(i)))
		m.Metadata.Set(stages.MetaKind, stages.KindReadings)
		if err := emit(ctx, m); err != nil {
			return err
		}
		runSinkOutput.Lock()
		runSinkOutput.emitted++
		runSinkOutput.Unlock()
	}
	<-ctx.Done()
	return ctx.Err()
}

type rtBatch struct{ buf []string }

func (b *rtBatch) Process(ctx context.Context, m *message.Message) ([]*message.Message, error) {
	b.buf = append(b.buf, string(m.Payload))
	return nil, nil
}

func (b *rtBatch) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	if len(b.buf) == 0 {
		return nil, nil
	}
	m := message.NewMessage("batch", message.Payload(strings.Join(b.buf, "+")))
	m.Metadata.Set(stages.MetaKind, stages.KindReadings)
	b.buf = nil
	return []*message.Message{m}, nil
}

type rtRunSink struct{}

// rtStdoutSink writes each payload as a line on standard output.
type rtStdoutSink struct{}

func (rtStdoutSink) Write(ctx context.Context, msgs []*message.Message) error {
	for _, m := range msgs {
		if _, err := fmt.Fprintf(os.Stdout, "%s\n", m.Payload); err != nil {
			return err
		}
	}
	return nil
}

func (rtRunSink) Write(ctx context.Context, msgs []*message.Message) error {
	runSinkOutput.Lock()
	defer runSinkOutput.Unlock()
	for _, m := range msgs {
		runSinkOutput.lines = append(runSinkOutput.lines, string(m.Payload))
	}
	return nil
}

func init() {
	info := func(id string) stages.Info {
		return stages.Info{ID: id, Summary: "test stage", Consumes: []string{stages.KindReadings}, Produces: []string{stages.KindReadings}}
	}
	src := info("rt-src")
	src.Consumes = nil
	stages.RegisterSource(src, func() *rtRunSrcConfig { return &rtRunSrcConfig{} },
		func(ctx context.Context, c *rtRunSrcConfig, env stages.Env) (stages.Source, error) {
			return rtRunSource{count: c.Count, every: c.Every}, nil
		})
	stages.RegisterProcessor(info("rt-batch"), func() *rtRunNoConfig { return &rtRunNoConfig{} },
		func(ctx context.Context, c *rtRunNoConfig, env stages.Env) (stages.Processor, error) {
			return &rtBatch{}, nil
		})
	sink := info("rt-sink")
	sink.Produces = nil
	stages.RegisterSink(sink, func() *rtRunNoConfig { return &rtRunNoConfig{} },
		func(ctx context.Context, c *rtRunNoConfig, env stages.Env) (stages.Sink, error) {
			return rtRunSink{}, nil
		})
	stdout := info("rt-stdout")
	stdout.Produces = nil
	stages.RegisterSink(stdout, func() *rtRunNoConfig { return &rtRunNoConfig{} },
		func(ctx context.Context, c *rtRunNoConfig, env stages.Env) (stages.Sink, error) {
			return rtStdoutSink{}, nil
		})
}

func writePipeline(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunDrainsOnCancel(t *testing.T) {
	dir := t.TempDir()
	file := writePipeline(t, dir, "batch.yaml", `name: batch
sources:
  - type: rt-src
    count: 5
stages:
  - type: rt-batch
sinks:
  - type: rt-sink
`)
	other := writePipeline(t, dir, "elsewhere.yaml", `name: elsewhere
node_selector:
  site: plant-9
sources:
  - {type: rt-src, count: 1}
sinks:
  - type: rt-sink
`)
	runSinkOutput.Lock()
	runSinkOutput.lines, runSinkOutput.emitted = nil, 0
	runSinkOutput.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"run", "--flush-interval", "1h", "--node-id", "gw-1", "--labels", "site=plant-1",
			"--data-dir", dir, file, other}, stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	}()
	// The batch stage holds everything until the drain flushes it; wait for the
	// source to have handed over all five messages (acked once buffered).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		runSinkOutput.Lock()
		n := runSinkOutput.emitted
		runSinkOutput.Unlock()
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("source got %d acks, want 5; stderr:\n%s", n, errOut.String())
		}
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("edgeflow run did not stop after cancel")
	}
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	runSinkOutput.Lock()
	got := strings.Join(runSinkOutput.lines, "|")
	runSinkOutput.Unlock()
	if got != "0+1+2+3+4" {
		t.Errorf("sink got %q, want the flushed batch 0+1+2+3+4", got)
	}
	stderr := errOut.String()
	for _, want := range []string{
		"pipeline batch: acked 5, nacked 0, dropped 0, dead letters 0; sources[0] (rt-src) out 5 errors 0; stages[0] (rt-batch) in 5 out 1 errors 0; sinks[0] (rt-sink) in 1 errors 0",
		"pipeline elsewhere: skipped (node_selector site=plant-9 does not match labels \"site=plant-1\")",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writePipeline(t, dir, "bad.yaml", "name: bad\nsources:\n  - {type: rt-src, count: x}\n  - type: nosuchstage\nsinks:\n  - type: rt-sink\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{name: "no files", args: []string{"run"}, wantCode: 2, wantErr: []string{"Usage: edgeflow run"}},
		{name: "load errors", args: []string{"run", bad}, wantCode: 1,
			wantErr: []string{bad + ":3:", bad + ":4:", "nothing was started"}},
		{name: "missing file", args: []string{"run", filepath.Join(dir, "nope.yaml")}, wantCode: 1, wantErr: []string{"nope.yaml"}},
		{name: "bad labels", args: []string{"run", "--labels", "x", bad}, wantCode: 1, wantErr: []string{"--labels: label \"x\": want key=value"}},
		{name: "bad log level", args: []string{"run", "--log-level", "loud", bad}, wantCode: 2, wantErr: []string{"--log-level"}},
		{name: "help", args: []string{"run", "--help"}, wantCode: 0, wantErr: []string{"Examples:", "-node-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestRunPrintNode(t *testing.T) {
	dir := t.TempDir()
	nodeFile := writePipeline(t, dir, "node.yaml", "id: from-file\nlabels: {site: plant-1}\nbrokers: [k1:9092]\ndata_dir: /var/lib/edgeflow\n")
	env := map[string]string{"EDGEFLOW_NODE_FILE": nodeFile, "EDGEFLOW_BROKERS": "k2:9092,k3:9092"}
	var out, errOut bytes.Buffer
	c := commands["run"]
	err := runRun(context.Background(), c, []string{"--print-node", "--node-id", "gw-2"}, stdio{out: &out, err: &errOut},
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := "id: gw-2\nlabels:\n  site: plant-1\nbrokers:\n  - k2:9092\n  - k3:9092\ndata_dir: /var/lib/edgeflow\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestRunProcess is not a test: TestRunSIGTERM runs the test binary as the
// edgeflow command with EDGEFLOW_RUN_PROCESS=1, so the test-only stages are
// compiled in and signals reach a real process.
func TestRunProcess(t *testing.T) {
	if os.Getenv("EDGEFLOW_RUN_PROCESS") != "1" {
		t.Skip("helper process for TestRunSIGTERM")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, args, stdio{os.Stdin, os.Stdout, os.Stderr}))
}

func TestRunSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	file := writePipeline(t, dir, "stream.yaml", `name: stream
sources:
  - type: rt-src
    every: 1ms
stages:
  - type: rt-batch
sinks:
  - type: rt-stdout
`)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunProcess$", "--", "run", "--flush-interval", "50ms",
		"--node-id", "gw-e2e", "--data-dir", dir, file)
	cmd.Env = append(os.Environ(), "EDGEFLOW_RUN_PROCESS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// let a few flushes happen, then stop it the way an init system would
	terminateAfter(t, cmd, 400*time.Millisecond, &stderr)
	// Every message the source handed over must be on stdout, once, in order.
	m := regexp.MustCompile(`pipeline stream: acked (\d+), nacked 0, dropped 0, dead letters 0; sources\[0\] \(rt-src\) out (\d+) errors 0;`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no summary line on stderr:\n%s", stderr.String())
	}
	n, _ := strconv.Atoi(m[2])
	if n < 10 {
		t.Errorf("only %d messages in 400ms", n)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		got = append(got, strings.Split(line, "+")...)
	}
	if len(got) != n {
		t.Fatalf("stdout has %d messages, the source handed over %d", len(got), n)
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("message %d on stdout is %q", i, v)
		}
	}
	if lines := strings.Count(stdout.String(), "\n"); lines < 2 {
		t.Errorf("%d flushes; want periodic flushes before the final one", lines)
	}
}

// TestRunBinaryDrainsOnSIGTERM builds edgeflow, replays a real temperature
// series through the encoder into the stdout sink, stops it with SIGTERM in the
// middle, and checks that every reading the source handed over comes out of
// the final flush, in one frame, bit for bit, and that it exits 0 — also when
// the process is frozen for 6 s just before the SIGTERM, as a loaded machine
// may do to it.
//
// Nothing but the drain may cut the block. The flush interval and the
// encoder's max_age are an hour, and the block holds more readings than the
// file. The file source paces its readings by the wall clock, so after a
// freeze it catches up at once: at 500 readings per second the readings it
// owes after 6 s (3,000, plus the 500 or so before) stay below the 4,096
// messages a source may have in flight (a full window asks for a flush) and
// the 7,267 rows of the file. At the default max_age (5 s) such a freeze makes
// the encoder emit the block when the next reading arrives, as it should, and
// the drain a second one.
func TestRunBinaryDrainsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	csvPath := testenv.SharedFile(t, "data/nab/ambient_temperature_system_failure.csv")
	rows := strings.Split(strings.TrimSpace(string(readFile(t, csvPath))), "\n")[1:]
	dir := t.TempDir()
	bin := filepath.Join(dir, "edgeflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		name   string
		freeze time.Duration // after 1 s, SIGSTOP this long; SIGTERM 20 ms after SIGCONT
	}{
		{"running", 0},
		{"frozen 6s just before the SIGTERM", 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			file := writePipeline(t, dataDir, "replay.yaml", fmt.Sprintf(`name: replay
sources:
  - type: file
    path: %s
    rate: 500
    batch: 1
stages:
  - type: encode
    codec: zstd
    block_size: 100000
    max_age: 1h
sinks:
  - type: stdout
    decode: true
`, csvPath))
			cmd := exec.Command(bin, "run", "--flush-interval", "1h", "--heartbeat-interval", "0", "--node-id", "e2e", "--data-dir", dataDir, file)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			runFor := time.Second
			if tt.freeze > 0 {
				time.Sleep(time.Second)
				if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				time.Sleep(tt.freeze)
				if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
				runFor = 20 * time.Millisecond
			}
			terminateAfter(t, cmd, runFor, &stderr)
			m := regexp.MustCompile(`pipeline replay: acked (\d+), nacked 0, dropped 0, dead letters 0; sources\[0\] \(file\) out (\d+) errors 0; stages\[0\] \(encode\) in (\d+) out (\d+) errors 0; sinks\[0\] \(stdout\) in (\d+) errors 0`).FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("no summary line on stderr:\n%s", stderr.String())
			}
			if m[4] != "1" || m[5] != "1" {
				t.Fatalf("the encoder emitted %s frames and the sink wrote %s; want 1 and 1, the drain's flush of every reading; stderr:\n%s",
					m[4], m[5], stderr.String())
			}
			n, _ := strconv.Atoi(m[2])
			if n < 100 || n >= len(rows) {
				t.Fatalf("source handed over %d of %d readings before SIGTERM; want a stop in the middle", n, len(rows))
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) != n {
				t.Fatalf("stdout has %d readings, the source handed over %d", len(lines), n)
			}
			for i, line := range lines {
				var r struct {
					Node  string  `json:"node"`
					Value float64 `json:"value"`
				}
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("line %d: %v: %s", i+1, err, line)
				}
				_, v, _ := strings.Cut(strings.TrimSpace(rows[i]), ",")
				want, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				if r.Value != want || r.Node != "e2e" {
					t.Fatalf("reading %d: got %s, want value %v from node e2e", i, line, want)
				}
			}
			t.Logf("%d readings drained on SIGTERM", n)
		})
	}
}

// terminateAfter sends SIGTERM to the started command after wait, as an init
// system would, and requires it to exit 0 within 30 s.
func terminateAfter(t *testing.T, cmd *exec.Cmd, wait time.Duration, stderr *bytes.Buffer) {
	t.Helper()
	time.Sleep(wait)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("edgeflow run: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("edgeflow run did not exit after SIGTERM; stderr:\n%s", stderr.String())
	}
}

// TestRunSummaryCountsDeadLetters: the summary line of a pipeline says how many
// inputs were dead-lettered, and by which step.
func TestRunSummaryCountsDeadLetters(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(input, []byte(`{"stream":"t","ts":"2026-01-01T00:00:00Z","value":1}
not a reading
{"stream":"t","ts":"2026-01-01T00:00:01Z","value":2}
{"stream":"t","ts":"2026-01-01T00:00:02Z","value":"x"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	file := writePipeline(t, dir, "dl.yaml", fmt.Sprintf(`name: dl
sources:
  - {type: file, path: %s}
sinks:
  - {type: file, path: %s}
`, input, filepath.Join(dir, "out.jsonl")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := runMain(ctx, []string{"run", "--node-id", "gw-1", "--heartbeat-interval", "0", "--data-dir", dir, file},
		stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	want := "pipeline dl: acked 1, nacked 0, dropped 0, dead letters 2 (sources[0] (file) 2); sources[0] (file) out 1 errors 0; sinks[0] (file) in 1 errors 0" // the two good readings in one message
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
	}
}
