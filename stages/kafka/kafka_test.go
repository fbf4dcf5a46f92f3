package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/stages"
	kafkastage "github.com/edgeflow/edgeflow/stages/kafka"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestSinkConformance(t *testing.T) {
	brokers := stagetest.KafkaBrokers()
	stagetest.Run(t, stages.KindSink, "kafka", stagetest.Features{
		NeedsKafka:  true,
		ValidConfig: "topic: edgeflow.stagetest\nbrokers: [" + strings.Join(brokers, ", ") + "]",
	})
}

func TestSourceConformance(t *testing.T) {
	brokers := stagetest.KafkaBrokers()
	stagetest.Run(t, stages.KindSource, "kafka", stagetest.Features{
		NeedsKafka:  true,
		ValidConfig: "topic: edgeflow.stagetest\ngroup: stagetest\nbrokers: [" + strings.Join(brokers, ", ") + "]",
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		kind  stages.Kind
		set   func(c stages.Config)
		field string // "" = valid
	}{
		{"sink defaults", stages.KindSink, func(stages.Config) {}, ""},
		{"sink bad topic", stages.KindSink, func(c stages.Config) { sinkCfg(c).Topic = "a/b" }, "topic"},
		{"sink empty topic", stages.KindSink, func(c stages.Config) { sinkCfg(c).Topic = "" }, "topic"},
		{"sink long topic", stages.KindSink, func(c stages.Config) { sinkCfg(c).Topic = strings.Repeat("t", 250) }, "topic"},
		{"sink broker without port", stages.KindSink, func(c stages.Config) { sinkCfg(c).Brokers = []string{"kafka-1"} }, "brokers[0]"},
		{"sink zero partitions", stages.KindSink, func(c stages.Config) { sinkCfg(c).Partitions = 0 }, "partitions"},
		{"sink zero replication", stages.KindSink, func(c stages.Config) { sinkCfg(c).ReplicationFactor = 0 }, "replication_factor"},
		{"sink zero write timeout", stages.KindSink, func(c stages.Config) { sinkCfg(c).WriteTimeout = 0 }, "write_timeout"},
		{"source defaults", stages.KindSource, func(stages.Config) {}, ""},
		{"source topics", stages.KindSource, func(c stages.Config) { sourceCfg(c).Topics = []string{"a", "b.c"} }, ""},
		{"source bad topics entry", stages.KindSource, func(c stages.Config) { sourceCfg(c).Topics = []string{"a", ".."} }, "topics[1]"},
		{"source duplicate topic", stages.KindSource, func(c stages.Config) {
			sourceCfg(c).Topic = "a"
			sourceCfg(c).Topics = []string{"a"}
		}, "topics[0]"},
		{"source bad start", stages.KindSource, func(c stages.Config) { sourceCfg(c).Start = "middle" }, "start"},
		{"source bad broker", stages.KindSource, func(c stages.Config) { sourceCfg(c).Brokers = []string{":9092"} }, "brokers[0]"},
		{"source negative commit interval", stages.KindSource, func(c stages.Config) { sourceCfg(c).CommitInterval = -time.Second }, "commit_interval"},
		{"source negative nack delay", stages.KindSource, func(c stages.Config) { sourceCfg(c).NackDelay = -time.Second }, "nack_delay"},
		{"source fast failover", stages.KindSource, func(c stages.Config) {
			sourceCfg(c).SessionTimeout = 6 * time.Second
			sourceCfg(c).HeartbeatInterval = 500 * time.Millisecond
			sourceCfg(c).RebalanceTimeout = 2 * time.Second
		}, ""},
		{"source zero session timeout", stages.KindSource, func(c stages.Config) { sourceCfg(c).SessionTimeout = 0 }, "session_timeout"},
		{"source zero heartbeat interval", stages.KindSource, func(c stages.Config) { sourceCfg(c).HeartbeatInterval = 0 }, "heartbeat_interval"},
		{"source negative rebalance timeout", stages.KindSource, func(c stages.Config) { sourceCfg(c).RebalanceTimeout = -time.Second }, "rebalance_timeout"},
		{"source session timeout beyond the protocol", stages.KindSource, func(c stages.Config) { sourceCfg(c).SessionTimeout = 30 * 24 * time.Hour }, "session_timeout"},
		{"source heartbeat not below session", stages.KindSource, func(c stages.Config) { sourceCfg(c).HeartbeatInterval = 10 * time.Second }, "heartbeat_interval"},
		{"source heartbeat not below rebalance", stages.KindSource, func(c stages.Config) {
			sourceCfg(c).HeartbeatInterval = 2 * time.Second
			sourceCfg(c).RebalanceTimeout = 2 * time.Second
		}, "heartbeat_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := stages.Lookup(tt.kind, "kafka")
			cfg := reg.NewConfig()
			tt.set(cfg)
			err := cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if got := stages.FieldOf(err); got != tt.field {
				t.Fatalf("Validate error %v names field %q, want %q", err, got, tt.field)
			}
		})
	}
}

func TestBuildNeedsBrokers(t *testing.T) {
	for _, kind := range []stages.Kind{stages.KindSink, stages.KindSource} {
		reg, _ := stages.Lookup(kind, "kafka")
		_, err := reg.Build(context.Background(), reg.NewConfig(), stages.Env{Node: stages.Node{ID: "n1"}, Pipeline: "p"})
		if stages.FieldOf(err) != "brokers" {
			t.Errorf("%s build without brokers: error %v, want one naming brokers", kind, err)
		}
	}
}

// frame returns a message shaped like an encoded frame of node/stream number seq.
func frame(node, stream string, seq int) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), fmt.Appendf(nil, "frame %s/%s #%d", node, stream, seq))
	msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
	msg.Metadata.Set(stages.MetaNode, node)
	msg.Metadata.Set(stages.MetaStream, stream)
	msg.Metadata.Set(stages.MetaSeq, fmt.Sprint(seq))
	msg.Metadata.Set(stages.MetaPipeline, "test")
	return msg
}

func build[T any](t *testing.T, kind stages.Kind, mutate func(stages.Config), env stages.Env) T {
	t.Helper()
	reg, ok := stages.Lookup(kind, "kafka")
	if !ok {
		t.Fatalf("%s kafka not registered", kind)
	}
	cfg := reg.NewConfig()
	mutate(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	v, err := reg.Build(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, ok := v.(stages.Closer); ok {
			if err := c.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	})
	return v.(T)
}

func sinkCfg(c stages.Config) *kafkastage.SinkConfig     { return c.(*kafkastage.SinkConfig) }
func sourceCfg(c stages.Config) *kafkastage.SourceConfig { return c.(*kafkastage.SourceConfig) }

// received is what a test source saw.
type received struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (r *received) add(m *message.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return len(r.msgs)
}

func (r *received) seqs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, m.Metadata.Get(stages.MetaSeq))
	}
	return out
}

// runSource reads with src until emit reports done or the timeout passes.
func runSource(t *testing.T, src stages.Source, timeout time.Duration, emit func(ctx context.Context, m *message.Message) (err error, done bool)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := src.Read(ctx, func(ctx context.Context, m *message.Message) error {
		err, done := emit(ctx, m)
		if done {
			cancel()
		}
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v", err)
	}
}

func TestSinkThenSourceRoundTrip(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	env := stages.Env{Node: stages.Node{ID: "node-a", Brokers: brokers}, Pipeline: "roundtrip"}

	sink := build[stages.Sink](t, stages.KindSink, func(c stages.Config) {
		sinkCfg(c).Topic = topic
		sinkCfg(c).Partitions = 3
	}, env)
	var sent []*message.Message
	for i := range 30 {
		sent = append(sent, frame("node-a", fmt.Sprintf("s%d", i%3), i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.Write(ctx, sent[:10]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := sink.Write(ctx, sent[10:]); err != nil {
		t.Fatalf("Write: %v", err)
	}

	src := build[stages.Source](t, stages.KindSource, func(c stages.Config) {
		sourceCfg(c).Topic = topic
		sourceCfg(c).Group = "roundtrip-" + watermill.NewShortUUID()
	}, env)
	var got received
	runSource(t, src, 60*time.Second, func(_ context.Context, m *message.Message) (error, bool) {
		return nil, got.add(m) == len(sent)
	})
	if len(got.msgs) != len(sent) {
		t.Fatalf("read %d messages, want %d", len(got.msgs), len(sent))
	}
	byUUID := map[string]*message.Message{}
	for _, m := range got.msgs {
		byUUID[m.UUID] = m
	}
	lastSeq := map[string]int{}
	for _, m := range got.msgs { // per stream, order must hold
		var seq int
		fmt.Sscan(m.Metadata.Get(stages.MetaSeq), &seq)
		stream := m.Metadata.Get(stages.MetaStream)
		if prev, ok := lastSeq[stream]; ok && seq < prev {
			t.Errorf("stream %s: seq %d after %d", stream, seq, prev)
		}
		lastSeq[stream] = seq
	}
	for _, want := range sent {
		m, ok := byUUID[want.UUID]
		if !ok {
			t.Errorf("message %s (seq %s) not read back", want.UUID, want.Metadata.Get(stages.MetaSeq))
			continue
		}
		if string(m.Payload) != string(want.Payload) {
			t.Errorf("payload %q, want %q", m.Payload, want.Payload)
		}
		for k, v := range want.Metadata {
			if m.Metadata.Get(k) != v {
				t.Errorf("metadata %s = %q, want %q", k, m.Metadata.Get(k), v)
			}
		}
		rec, ok := kafkabus.RecordFromContext(m.Context())
		if !ok || rec.Topic != topic || string(rec.Key) != "node-a/"+want.Metadata.Get(stages.MetaStream) {
			t.Errorf("record %+v ok=%v: want topic %s and key node-a/<stream>", rec, ok, topic)
		}
	}
}

// TestSourceCommitsOnlyAckedRecords: a nacked record is emitted again at once
// (before later ones), and a consumer restarted in the same group resumes at
// the first record the pipeline did not acknowledge.
func TestSourceCommitsOnlyAckedRecords(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	group := "commit-" + watermill.NewShortUUID()
	env := stages.Env{Node: stages.Node{ID: "node-b", Brokers: brokers}, Pipeline: "commit"}

	sink := build[stages.Sink](t, stages.KindSink, func(c stages.Config) { sinkCfg(c).Topic = topic }, env)
	var sent []*message.Message
	for i := range 10 {
		sent = append(sent, frame("node-b", "temp", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.Write(ctx, sent); err != nil {
		t.Fatalf("Write: %v", err)
	}

	newSource := func() stages.Source {
		return build[stages.Source](t, stages.KindSource, func(c stages.Config) {
			sourceCfg(c).Topic = topic
			sourceCfg(c).Group = group
			sourceCfg(c).NackDelay = 10 * time.Millisecond
		}, env)
	}

	// First consumer: ack 0..2, nack 3 once (it must come back next), ack 3
	// and 4, then nack 5 and stop without acknowledging it.
	var first received
	nacked3 := false
	runSource(t, newSource(), 60*time.Second, func(_ context.Context, m *message.Message) (error, bool) {
		first.add(m)
		switch seq := m.Metadata.Get(stages.MetaSeq); {
		case seq == "3" && !nacked3:
			nacked3 = true
			return fmt.Errorf("pipeline: %w", stages.ErrNacked), false
		case seq == "5":
			return stages.ErrNacked, true
		}
		return nil, false
	})
	if got, want := strings.Join(first.seqs(), ","), "0,1,2,3,3,4,5"; got != want {
		t.Fatalf("first consumer saw seqs %s, want %s", got, want)
	}

	// Second consumer in the same group resumes at 5, the first unacknowledged.
	var second received
	runSource(t, newSource(), 60*time.Second, func(_ context.Context, m *message.Message) (error, bool) {
		return nil, second.add(m) == 5
	})
	if got, want := strings.Join(second.seqs(), ","), "5,6,7,8,9"; got != want {
		t.Fatalf("restarted consumer saw seqs %s, want %s", got, want)
	}
}
