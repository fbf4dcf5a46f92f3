package kafkabus_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// TestReadAll: ReadAll returns every record written before it was called, from
// every partition in offset order, with its key, and then returns; a topic that
// does not exist reads as empty.
func TestReadAll(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tests := []struct {
		name       string
		partitions int
		records    int // 0: the topic is never created
	}{
		{"missing topic", 1, 0},
		{"one partition", 1, 25},
		{"three partitions", 3, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := kafkatest.Topic(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var want []string
			if tt.records > 0 {
				pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Partitions: tt.partitions,
					Key: func(_ string, m *message.Message) []byte { return []byte(m.Metadata.Get("k")) }})
				if err != nil {
					t.Fatal(err)
				}
				defer pub.Close()
				for i := range tt.records {
					m := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf("r%03d", i)))
					m.Metadata.Set("k", fmt.Sprintf("key-%d", i%7))
					if err := pub.PublishContext(ctx, topic, m); err != nil {
						t.Fatal(err)
					}
					want = append(want, string(m.Payload))
				}
			}
			var got []string
			lastOffset := map[int]int64{}
			err := kafkabus.ReadAll(ctx, brokers, topic, func(m *message.Message) {
				rec, ok := kafkabus.RecordFromContext(m.Context())
				if !ok {
					t.Fatalf("record %s has no Record in its context", m.Payload)
				}
				if last, seen := lastOffset[rec.Partition]; seen && rec.Offset <= last {
					t.Errorf("partition %d: offset %d after %d", rec.Partition, rec.Offset, last)
				}
				lastOffset[rec.Partition] = rec.Offset
				if string(rec.Key) != m.Metadata.Get("k") {
					t.Errorf("record %s: key %q, metadata k %q", m.Payload, rec.Key, m.Metadata.Get("k"))
				}
				got = append(got, string(m.Payload))
			})
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("read %d records %v, want the %d written %v", len(got), got, len(want), want)
			}
		})
	}
}

// TestReadAllEndsWithCtx: ReadAll of a topic too slow to read returns the
// context's error, saying which topic.
func TestReadAllEndsWithCtx(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := kafkabus.ReadAll(ctx, brokers, kafkatest.Topic(t), func(*message.Message) {})
	if err == nil {
		t.Fatal("ReadAll with a cancelled context returned nil")
	}
}
