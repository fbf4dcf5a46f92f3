package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// tailTestTopic starts an in-process broker holding frames of streams "a" and
// "b" of node-1 (frames seq 1..3 of 4 readings each, and seq 2 of "a" twice)
// and returns its address.
func tailTestTopic(t *testing.T, topic string) string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	addr := cluster.ListenAddrs()[0]
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	enc, err := frame.NewEncoder(frame.Options{Codec: frame.CodecLZ4})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*message.Message
	add := func(stream string, seq uint64) {
		b := &frame.Block{Node: "node-1", Stream: stream, Seq: seq}
		for i := 0; i < 4; i++ {
			b.Timestamps = append(b.Timestamps, time.Unix(1767225600+int64(seq)*10+int64(i), 0).UnixNano())
			b.Values = append(b.Values, float64(seq)+float64(i)/4)
		}
		payload, err := enc.Encode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		m := message.NewMessage(watermill.NewUUID(), payload)
		m.Metadata.Set(stages.MetaKind, stages.KindFrame)
		m.Metadata.Set(stages.MetaNode, b.Node)
		m.Metadata.Set(stages.MetaStream, b.Stream)
		m.Metadata.Set(stages.MetaSeq, strconv.FormatUint(seq, 10))
		msgs = append(msgs, m)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		add("a", seq)
		add("b", seq)
	}
	add("a", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pub.PublishContext(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestTail(t *testing.T) {
	addr := tailTestTopic(t, "edgeflow.frames")
	t.Setenv("EDGEFLOW_BROKERS", addr)

	t.Run("readings", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "tail", "--from-beginning", "-n", "24", "--stats", "edgeflow.frames")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 24 {
			t.Fatalf("%d lines, want 24:\n%s", len(lines), out)
		}
		seen := map[string]bool{}
		for _, l := range lines {
			var r reading.Reading
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			key := r.Stream + r.Time.String()
			if r.Node != "node-1" || seen[key] {
				t.Errorf("unexpected or repeated reading %s", l)
			}
			seen[key] = true
		}
		if !strings.Contains(errOut, "24 readings") {
			t.Errorf("stats line missing: %q", errOut)
		}
	})

	t.Run("limit", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "tail", "--brokers", addr, "--from-beginning", "-n", "5", "edgeflow.frames")
		if n := bytes.Count(out, []byte("\n")); code != 0 || n != 5 {
			t.Fatalf("exit %d, %d lines, want 0 and 5: %s", code, n, errOut)
		}
	})

	t.Run("frames", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "tail", "--from-beginning", "--frames", "-n", "6", "edgeflow.frames")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 6 {
			t.Fatalf("%d lines, want 6:\n%s", len(lines), out)
		}
		for _, l := range lines {
			var h batchLine
			if err := json.Unmarshal([]byte(l), &h); err != nil {
				t.Fatal(err)
			}
			if h.Kind != "frame" || h.Codec != "lz4" || h.Count != 4 || h.Seq < 1 || h.Seq > 3 || h.Bytes == 0 || h.Topic != "edgeflow.frames" {
				t.Errorf("frame line %s", l)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		if code, _, _ := runCLI(t, nil, "tail"); code != 2 {
			t.Errorf("tail without topic: exit %d, want 2", code)
		}
		if code, _, errOut := runCLI(t, nil, "tail", "--brokers", "nohost", "x"); code != 1 || !strings.Contains(errOut, "--brokers") {
			t.Errorf("bad broker: exit %d %q", code, errOut)
		}
	})
}
