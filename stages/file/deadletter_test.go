package file_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	kafkastage "github.com/edgeflow/edgeflow/stages/kafka"
)

// Lines of a CSV file that do not parse go to a real Kafka dead-letter topic
// with the reason in the headers; every good line reaches the sink.
func TestDeadLettersToKafka(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "temp.csv"), filepath.Join(dir, "out.jsonl")
	csv := "timestamp,value\n" +
		"2026-01-01T00:00:00Z,1\n" +
		"2026-01-01T00:00:05Z,abc\n" + // line 3: not a number
		"2026-01-01T00:00:10Z,3\n" +
		"yesterday,4\n" + // line 5: not a time
		"2026-01-01T00:00:15Z,5\n"
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pipelines.Load("dl.yaml", []byte("name: dl\nsources:\n  - {type: file, path: "+in+"}\n"+
		"sinks:\n  - {type: file, path: "+out+"}\ndead_letter: {type: kafka, topic: "+topic+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "n1", Brokers: brokers}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(got), "\n"); n != 3 {
		t.Errorf("sink got %d readings, want 3:\n%s", n, got)
	}
	if d := r.Stats().DeadLetters; len(d) != 1 || d[0].Path != "sources[0] (file)" || d[0].Count != 2 {
		t.Errorf("Stats.DeadLetters = %+v, want 2 from sources[0] (file)", d)
	}

	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ line, payload, reason string }{
		{"3", "2026-01-01T00:00:05Z,abc", `column "value"`},
		{"5", "yesterday,4", `column "timestamp"`},
	}
	for i, w := range want {
		select {
		case m := <-msgs:
			m.Ack()
			if string(m.Payload) != w.payload {
				t.Errorf("dead letter %d: payload %q, want %q", i, m.Payload, w.payload)
			}
			md := m.Metadata
			if got := md.Get(stages.MetaSource); got != in+":"+w.line {
				t.Errorf("dead letter %d: %s = %q, want %q", i, stages.MetaSource, got, in+":"+w.line)
			}
			if got := md.Get(stages.MetaError); !strings.Contains(got, w.reason) || !strings.Contains(got, in+":"+w.line) {
				t.Errorf("dead letter %d: %s = %q, want it to name %s:%s and %q", i, stages.MetaError, got, in, w.line, w.reason)
			}
			if md.Get(stages.MetaErrorStep) != "sources[0] (file)" || md.Get(stages.MetaPipeline) != "dl" || md.Get(stages.MetaNode) != "n1" {
				t.Errorf("dead letter %d: metadata %v", i, md)
			}
		case <-ctx.Done():
			t.Fatalf("dead letter %d not read from %s", i, topic)
		}
	}
}

// A kafka dead_letter: sink without a topic writes to edgeflow.deadletter, not
// to the frames topic.
func TestDeadLetterKafkaDefaultTopic(t *testing.T) {
	in := filepath.Join(t.TempDir(), "x.csv")
	if err := os.WriteFile(in, []byte("timestamp,value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ entry, topic string }{
		{"{type: kafka}", pipelines.DefaultDeadLetterTopic},
		{"{type: kafka, topic: plant.bad}", "plant.bad"},
	} {
		p, err := pipelines.Load("d.yaml", []byte("sources:\n  - {type: file, path: "+in+"}\nsinks:\n  - {type: file, path: out.jsonl}\ndead_letter: "+tt.entry+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.DeadLetter.Config.(*kafkastage.SinkConfig).Topic; got != tt.topic {
			t.Errorf("%s: topic %q, want %q", tt.entry, got, tt.topic)
		}
	}
}
