package kafkabus_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// TestSubscribeBeforeTopicExists: a subscriber that may not create topics,
// started before its producer, gets the messages once the producer created
// the topic (a consumer group that joined a topic without partitions would
// otherwise never be assigned any).
func TestSubscribeBeforeTopicExists(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, DisableTopicCreation: true,
		PartitionWatchInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}

	time.Sleep(time.Second) // the subscriber is now waiting for the topic
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	want := message.NewMessage(watermill.NewUUID(), []byte("late"))
	if err := pub.Publish(topic, want); err != nil {
		t.Fatal(err)
	}
	select {
	case got, ok := <-ch:
		if !ok {
			t.Fatal("channel closed before the message came")
		}
		got.Ack()
		if got.UUID != want.UUID {
			t.Fatalf("got message %s, want %s", got.UUID, want.UUID)
		}
	case <-ctx.Done():
		t.Fatal("no message within 60s after the topic was created")
	}
}
