package kafkabus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// TestMaxInFlightCommitsInOrder: with MaxInFlight, records are handed out
// before earlier ones are Acked, never more than MaxInFlight at once; the
// committed offset passes a record only once it and every earlier one were
// Acked; a Nack hands out the record again followed by the later ones already
// handed out.
func TestMaxInFlightCommitsInOrder(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	group := "inflight-" + watermill.NewShortUUID()
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var sent []*message.Message
	for i := range 12 {
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
			MaxInFlight: 4, NackResendSleep: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	// take receives n messages and checks their payloads.
	take := func(ch <-chan *message.Message, want string) []*message.Message {
		t.Helper()
		var got []*message.Message
		var payloads []string
		for range strings.Split(want, ",") {
			select {
			case m, ok := <-ch:
				if !ok {
					t.Fatal("channel closed")
				}
				got = append(got, m)
				payloads = append(payloads, string(m.Payload))
			case <-time.After(30 * time.Second):
				t.Fatalf("got %v within 30s, want %s", payloads, want)
			}
		}
		if strings.Join(payloads, ",") != want {
			t.Fatalf("got %s, want %s", strings.Join(payloads, ","), want)
		}
		return got
	}
	none := func(ch <-chan *message.Message) {
		t.Helper()
		select {
		case m := <-ch:
			t.Fatalf("got %s beyond MaxInFlight", m.Payload)
		case <-time.After(300 * time.Millisecond):
		}
	}

	sub := newSub()
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	first := take(ch, "0,1,2,3") // none Acked yet
	none(ch)
	first[1].Ack()
	first[2].Ack()
	first[3].Nack()
	again := take(ch, "3")
	again[0].Ack()
	none(ch) // 0 still holds the partition's commit, and so the window
	first[0].Ack()
	second := take(ch, "4,5,6,7")
	second[1].Ack()
	second[0].Nack() // 5 was Acked, but comes again after 4
	third := take(ch, "4,5,6,7")
	third[0].Ack()
	second[2].Ack() // a superseded delivery: does not count
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}

	sub = newSub()
	defer sub.Close()
	ch, err = sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	resumed := take(ch, "5,6,7,8")
	if resumed[0].UUID != sent[5].UUID {
		t.Fatalf("restarted subscriber began at %s, want the record of 5", resumed[0].UUID)
	}
}
