package cloud

import (
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
)

// DefaultCommitInterval is how often a Consumer commits handled offsets when
// ConsumerConfig.CommitInterval is zero.
const DefaultCommitInterval = time.Second

// newKafkaSubscriber builds the consumer-group subscriber for cfg: one message at
// a time per subscription, offsets of Acked messages committed every
// CommitInterval, redelivery on Nack.
func newKafkaSubscriber(cfg ConsumerConfig, log *slog.Logger) (message.Subscriber, error) {
	start := kafkabus.StartNewest
	if cfg.Start == StartEarliest {
		start = kafkabus.StartOldest
	}
	commit := cfg.CommitInterval
	switch {
	case commit == 0:
		commit = DefaultCommitInterval
	case commit < 0:
		commit = 0 // kafkabus: synchronous commit per message
	}
	return kafkabus.NewSubscriber(kafkabus.SubscriberConfig{
		CommitInterval:       commit,
		Brokers:              cfg.Brokers,
		ConsumerGroup:        cfg.Group,
		Start:                start,
		ClientID:             "edgeflow-cloud",
		NackResendSleep:      cfg.RetryDelay,
		DisableTopicCreation: !cfg.CreateTopic,
		Logger:               watermill.NewSlogLogger(log),
	})
}

// positionOf says where msg was read from: the Kafka record behind it, or just
// the topic for messages from other subscribers.
func positionOf(msg *message.Message, topic string) Position {
	if rec, ok := kafkabus.RecordFromContext(msg.Context()); ok {
		return Position{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	}
	return Position{Topic: topic, Partition: -1, Offset: -1}
}
