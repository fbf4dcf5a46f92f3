package kafkabus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// BenchmarkConsumeAck measures one subscription receiving and acking records,
// with synchronous and with interval commits.
func BenchmarkConsumeAck(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	for _, interval := range []time.Duration{0, time.Second} {
		b.Run(fmt.Sprintf("commit_interval=%s", interval), func(b *testing.B) {
			topic := kafkatest.Topic(b)
			pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			batch := make([]*message.Message, 0, 500)
			for i := 0; i < b.N; i++ {
				batch = append(batch, message.NewMessage(watermill.NewUUID(), make([]byte, 256)))
				if len(batch) == cap(batch) || i == b.N-1 {
					if err := pub.Publish(topic, batch...); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers,
				ConsumerGroup: "bench-" + watermill.NewShortUUID(), CommitInterval: interval})
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			ch, err := sub.Subscribe(context.Background(), topic)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				select {
				case m := <-ch:
					m.Ack()
				case <-time.After(30 * time.Second):
					b.Fatalf("record %d of %d not received", i, b.N)
				}
			}
		})
	}
}

// BenchmarkPublish measures publishing 256-byte messages one per call and in
// batches of 100 (each call waits for acks=all).
func BenchmarkPublish(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			topic := kafkatest.Topic(b)
			pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			msgs := make([]*message.Message, size)
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				for j := range msgs {
					msgs[j] = message.NewMessage(watermill.NewUUID(), make([]byte, 256))
					msgs[j].Metadata.Set("edgeflow-node", "n1")
					msgs[j].Metadata.Set("edgeflow-stream", fmt.Sprint(j%8))
				}
				if err := pub.Publish(topic, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
