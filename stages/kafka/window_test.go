package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/encode"
	frames "github.com/edgeflow/edgeflow/stages/encode/frame"
	_ "github.com/edgeflow/edgeflow/stages/file"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// windowRecords is how many records the window tests publish
// (EDGEFLOW_KAFKA_WINDOW_RECORDS overrides it, to measure).
func windowRecords(t *testing.T) int {
	if s := os.Getenv("EDGEFLOW_KAFKA_WINDOW_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("EDGEFLOW_KAFKA_WINDOW_RECORDS=%q: want a positive number", s)
		}
		return n
	}
	return 5000
}

// windowBase is the time of record 0; record i is at windowBase + i s.
var windowBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// publishReadings writes n records of one reading each to topic (one
// partition): record i is stream s<i%4> at windowBase+i s with value i.
func publishReadings(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var msgs []*message.Message
	for i := range n {
		msg := reading.NewMessage([]reading.Reading{{Node: "n1", Stream: fmt.Sprintf("s%d", i%4),
			Time: windowBase.Add(time.Duration(i) * time.Second), Value: float64(i)}})
		msg.Metadata.Set(stages.MetaStream, fmt.Sprintf("s%d", i%4))
		msgs = append(msgs, msg)
	}
	for len(msgs) > 0 {
		batch := msgs[:min(len(msgs), 1000)]
		msgs = msgs[len(batch):]
		if err := pub.Publish(topic, batch...); err != nil {
			t.Fatal(err)
		}
	}
}

// windowPipeline is kafka (topic, group) → encode (block_size 100000,
// max_age 1s) → file out.
func windowPipeline(t *testing.T, brokers []string, topic, group, out string, maxInFlight int) *pipelines.Pipeline {
	t.Helper()
	// The loader checks payload kinds, and the kafka source is declared as
	// producing frames: load the file → encode → file pipeline, then put the
	// kafka source (whose topic holds readings) in place of the file source.
	p, err := pipelines.Load("window.yaml", fmt.Appendf(nil, `name: window
sources:
  - {type: file, path: unused.jsonl}
stages:
  - {type: encode, block_size: 100000, max_age: 1s}
sinks:
  - {type: file, path: %s}
`, out))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := stages.Lookup(stages.KindSource, "kafka")
	cfg := reg.NewConfig()
	sourceCfg(cfg).Topic = topic
	sourceCfg(cfg).Group = group
	sourceCfg(cfg).Brokers = brokers
	sourceCfg(cfg).MaxInFlight = maxInFlight
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p.Sources[0] = pipelines.Step{Path: "sources[0] (kafka)", Line: 3, Reg: reg, Config: cfg}
	return p
}

// runningPipeline is a pipeline run in the background.
type runningPipeline struct {
	cancel context.CancelFunc
	done   chan error
	runner *pipelines.Runner
}

func startPipeline(t *testing.T, p *pipelines.Pipeline) *runningPipeline {
	t.Helper()
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	env := stages.Env{Node: stages.Node{ID: "n1"}, Pipeline: p.Name,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := p.Build(ctx, env)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	rp := &runningPipeline{cancel: cancel, done: make(chan error, 1), runner: r}
	go func() { rp.done <- r.Run(ctx) }()
	return rp
}

// stop ends the run, as SIGTERM does, and waits for the drain.
func (rp *runningPipeline) stop(t *testing.T) {
	t.Helper()
	rp.cancel()
	select {
	case err := <-rp.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of the stop")
	}
}

// outputCounts decodes the frames in path and counts each record's readings
// (by value, which is the record's number). A frame being written at the end
// is left out.
func outputCounts(t *testing.T, path string, n int) []int {
	t.Helper()
	counts := make([]int, n)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return counts
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := frames.NewDecoder()
	var b frames.Block
	for len(data) > 0 {
		f, rest, err := frames.Next(data)
		if err != nil {
			break // a frame being written
		}
		data = rest
		if _, err := dec.Decode(f, &b); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for j, v := range b.Values {
			i := int(v)
			if float64(i) != v || i < 0 || i >= n || b.Stream != fmt.Sprintf("s%d", i%4) ||
				b.Timestamps[j] != windowBase.Add(time.Duration(i)*time.Second).UnixNano() {
				t.Fatalf("%s: stream %s reading %d at %d: not one that was published", path, b.Stream, j, b.Timestamps[j])
			}
			counts[i]++
		}
	}
	return counts
}

// present is how many records appear in counts at least once.
func present(counts []int) int {
	n := 0
	for _, c := range counts {
		if c > 0 {
			n++
		}
	}
	return n
}

// committedOffset is the group's committed offset of partition 0 of topic
// (-1 when none).
func committedOffset(t *testing.T, brokers []string, topic, group string) int64 {
	t.Helper()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := client.OffsetFetch(context.Background(), &kafkago.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == 0 {
			if p.Error != nil {
				t.Fatalf("offset fetch: %v", p.Error)
			}
			return p.CommittedOffset
		}
	}
	return -1
}

// checkCommittedDurable checks that every record below the group's committed
// offset is in the output file: the offset was committed only after what was
// made of those records had been written.
func checkCommittedDurable(t *testing.T, brokers []string, topic, group, out string, n int) int64 {
	t.Helper()
	committed := committedOffset(t, brokers, topic, group) // first: the file only grows
	counts := outputCounts(t, out, n)
	for i := int64(0); i < committed; i++ {
		if counts[i] == 0 {
			data, _ := os.ReadFile(out)
			t.Fatalf("offset %d committed, but record %d is not in the output (%d bytes)", committed, i, len(data))
		}
	}
	return committed
}

// TestSourceWindowBehindEncoder: behind an encoder that emits a frame only
// when it is full (never here) or max_age old, the source keeps many records
// in flight, so 5,000 records take seconds, not 5,000 max_ages; every record is
// written once, and the committed offset never passes what is in the output,
// also one record at a time (max_in_flight 1, a few records: each waits for
// max_age).
func TestSourceWindowBehindEncoder(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tests := []struct {
		name        string
		records     int
		maxInFlight int
	}{
		{name: "window", records: windowRecords(t), maxInFlight: stages.DefaultWindow},
		{name: "one at a time", records: 3, maxInFlight: 1},
	}
	if s := os.Getenv("EDGEFLOW_KAFKA_WINDOW_MAX_IN_FLIGHT"); s != "" { // to measure
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		tests = tests[:1]
		tests[0].maxInFlight = n
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := kafkatest.Topic(t)
			n := tt.records
			publishReadings(t, brokers, topic, n)
			group := "window-" + watermill.NewShortUUID()
			out := filepath.Join(t.TempDir(), "out.frames")

			start := time.Now()
			rp := startPipeline(t, windowPipeline(t, brokers, topic, group, out, tt.maxInFlight))
			deadline := time.Now().Add(60 * time.Second)
			if s := os.Getenv("EDGEFLOW_KAFKA_WINDOW_TIMEOUT"); s != "" {
				d, err := time.ParseDuration(s)
				if err != nil {
					t.Fatal(err)
				}
				deadline = time.Now().Add(d)
			}
			for {
				checkCommittedDurable(t, brokers, topic, group, out, n)
				got := present(outputCounts(t, out, n))
				if got == n {
					break
				}
				if time.Now().After(deadline) {
					el := time.Since(start)
					rp.stop(t)
					t.Fatalf("%d of %d records written in %s (%.1f records/s)", got, n, el.Round(time.Millisecond), float64(got)/el.Seconds())
				}
				time.Sleep(20 * time.Millisecond)
			}
			elapsed := time.Since(start)
			t.Logf("%d records kafka → encode (max_age 1s) → file in %s: %.1f records/s (max_in_flight %d)",
				n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), tt.maxInFlight)
			rp.stop(t)

			counts := outputCounts(t, out, n)
			for i, c := range counts {
				if c != 1 {
					t.Errorf("record %d written %d times, want once", i, c)
				}
			}
			if got := checkCommittedDurable(t, brokers, topic, group, out, n); got != int64(n) {
				t.Errorf("committed offset %d after a clean stop, want %d", got, n)
			}
		})
	}
}

// TestSourceWindowStopRestart: a pipeline stopped midway and started again in
// the same group leaves no record out (records may be written twice: those in
// flight at the stop whose acknowledgement did not reach the commit).
func TestSourceWindowStopRestart(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	n := windowRecords(t)
	publishReadings(t, brokers, topic, n)
	group := "window-" + watermill.NewShortUUID()
	out := filepath.Join(t.TempDir(), "out.frames")

	// A small window: a frame every 256 records, so the stop comes midway.
	rp := startPipeline(t, windowPipeline(t, brokers, topic, group, out, 257))
	deadline := time.Now().Add(60 * time.Second)
	for present(outputCounts(t, out, n)) < n/5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d records written within 60s", present(outputCounts(t, out, n)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	rp.stop(t)
	committed := checkCommittedDurable(t, brokers, topic, group, out, n)
	first := present(outputCounts(t, out, n))
	if committed >= int64(n) {
		t.Fatalf("the first run committed all %d records: not stopped midway", n)
	}

	rp = startPipeline(t, windowPipeline(t, brokers, topic, group, out, 257))
	deadline = time.Now().Add(60 * time.Second)
	for present(outputCounts(t, out, n)) < n {
		checkCommittedDurable(t, brokers, topic, group, out, n)
		if time.Now().After(deadline) {
			rp.stop(t)
			counts := outputCounts(t, out, n)
			for i, c := range counts {
				if c == 0 {
					t.Fatalf("record %d missing after the restart (%d of %d written)", i, present(counts), n)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	rp.stop(t)
	dups := 0
	for _, c := range outputCounts(t, out, n) {
		dups += c - 1
	}
	t.Logf("stopped after %d records written (offset %d committed); after the restart all %d written, %d twice",
		first, committed, n, dups)
	if got := committedOffset(t, brokers, topic, group); got != int64(n) {
		t.Errorf("committed offset %d at the end, want %d", got, n)
	}
}
