package kafka

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

func init() {
	stages.RegisterSink(stages.Info{
		ID:      "kafka",
		Summary: "Publish messages to a Kafka topic, acknowledged by all in-sync replicas.",
		Description: `Writes each message as one Kafka record: the payload as the value, the key
` + "`<node>/<stream>`" + ` (from the edgeflow-node and edgeflow-stream metadata) so that the
frames of one stream land in one partition in order, the message UUID in header
` + "`" + kafkabus.HeaderUUID + "`" + ` and every metadata entry as a header of the same name.
Records are lz4 compressed; a write returns only once every in-sync replica has
it (acks=all), otherwise the messages are nacked and the source may retry.
A missing topic is created with ` + "`partitions`" + ` and ` + "`replication_factor`" + ` unless
` + "`create_topic`" + ` is false. Brokers default to the node's brokers.`,
		Examples: []stages.Example{
			{Title: "Frames to the default topic on the node's brokers", YAML: "kafka: {}\n"},
			{Title: "Explicit brokers and topic layout", YAML: "kafka:\n  topic: plant-7.frames\n  brokers: [kafka-1:9092, kafka-2:9092, kafka-3:9092]\n  partitions: 6\n  replication_factor: 3\n  write_timeout: 20s\n"},
		},
	}, defaultSinkConfig, buildSink)
}

// Sink publishes messages to one topic.
type Sink struct {
	topic string
	pub   *kafkabus.Publisher
}

func buildSink(_ context.Context, cfg *SinkConfig, env stages.Env) (stages.Sink, error) {
	brokers, err := brokersFor(cfg.Brokers, env)
	if err != nil {
		return nil, err
	}
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{
		Brokers:              brokers,
		ClientID:             clientID(cfg.ClientID, env),
		DisableTopicCreation: !cfg.CreateTopic,
		Partitions:           cfg.Partitions,
		ReplicationFactor:    cfg.ReplicationFactor,
		WriteTimeout:         cfg.WriteTimeout,
		BatchTimeout:         cfg.BatchTimeout,
		Logger:               watermill.NewSlogLogger(env.Log().With("stage", "kafka", "topic", cfg.Topic)),
	})
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	return &Sink{topic: cfg.Topic, pub: pub}, nil
}

// Write publishes msgs in order and returns once all are acknowledged.
func (s *Sink) Write(ctx context.Context, msgs []*message.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.pub.PublishContext(ctx, s.topic, msgs...); err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	return nil
}

// ProbeLink reports whether the brokers answer now (a metadata request on a
// new connection, bounded by ctx): a spool in front of the sink probes while
// it waits to retry, and sends again as soon as the link is back.
func (s *Sink) ProbeLink(ctx context.Context) error {
	if err := s.pub.Probe(ctx, s.topic); err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	return nil
}

// MessagingSystem is "kafka"; with Destination it names the sink's spans when
// the pipeline is traced ("publish <topic>").
func (s *Sink) MessagingSystem() string { return "kafka" }

// Destination is the topic the sink publishes to.
func (s *Sink) Destination() string { return s.topic }

// Close flushes and releases the connections; it is idempotent.
func (s *Sink) Close() error { return s.pub.Close() }
