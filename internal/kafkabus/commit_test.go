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

// TestCommitOnlyAfterAck: a subscriber restarted in the same group resumes at
// the first message that was not Acked, with synchronous and with interval
// commits; a Nacked message comes again before the next one.
func TestCommitOnlyAfterAck(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	for _, interval := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(fmt.Sprintf("commit_interval=%s", interval), func(t *testing.T) {
			topic := kafkatest.Topic(t)
			group := "commit-" + watermill.NewShortUUID()
			pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			var sent []*message.Message
			for i := range 10 {
				m := message.NewMessage(watermill.NewUUID(), fmt.Appendf(nil, "%d", i))
				m.Metadata.Set("edgeflow-node", "n1")
				m.Metadata.Set("edgeflow-stream", "s")
				sent = append(sent, m)
			}
			if err := pub.Publish(topic, sent...); err != nil {
				t.Fatal(err)
			}

			newSub := func() *kafkabus.Subscriber {
				sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: group,
					CommitInterval: interval, NackResendSleep: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return sub
			}
			next := func(ch <-chan *message.Message) *message.Message {
				t.Helper()
				select {
				case m, ok := <-ch:
					if !ok {
						t.Fatal("channel closed")
					}
					return m
				case <-time.After(30 * time.Second):
					t.Fatal("no message within 30s")
				}
				return nil
			}

			sub := newSub()
			ch, err := sub.Subscribe(context.Background(), topic)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				m := next(ch)
				if string(m.Payload) != fmt.Sprint(i) {
					t.Fatalf("got payload %s, want %d", m.Payload, i)
				}
				if i == 2 {
					m.Nack()
					if again := next(ch); again.UUID != m.UUID {
						t.Fatalf("after Nack got %s, want %s again", again.Payload, m.Payload)
					} else {
						m = again
					}
				}
				m.Ack()
			}
			if m := next(ch); string(m.Payload) != "5" { // handed out, never acked
				t.Fatalf("got payload %s, want 5", m.Payload)
			}
			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}

			sub = newSub()
			defer sub.Close()
			ch, err = sub.Subscribe(context.Background(), topic)
			if err != nil {
				t.Fatal(err)
			}
			m := next(ch)
			if string(m.Payload) != "5" || m.UUID != sent[5].UUID {
				t.Fatalf("restarted subscriber began at payload %s, want 5", m.Payload)
			}
			m.Ack()
		})
	}
}
