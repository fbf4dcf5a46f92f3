package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "kafka",
		Summary: "Read messages from Kafka topics in a consumer group, committing after the pipeline acks.",
		Description: `Reads one or more topics as a member of a consumer group and emits each record
as a message: the value as payload, metadata restored from the record headers
(the UUID from header ` + "`" + kafkabus.HeaderUUID + "`" + `). Records are emitted one at a time
in partition order; a record's offset is committed only after the pipeline
acknowledged it (every sink wrote it), and a record the pipeline rejected is
emitted again after ` + "`nack_delay`" + `. After a restart the group resumes after the
last committed record, so every record is processed at least once. Several
pipelines with the same group share the partitions between them. The source is
declared as producing frames (what edge nodes publish); each message keeps the
edgeflow-kind metadata its producer set.`,
		// Topics carry what their producers wrote; edgeflow's are frames (the
		// kafka sink after encode), which is what the loader checks against.
		Produces: []string{stages.KindFrame},
		Examples: []stages.Example{
			{Title: "Frames from the default topic", YAML: "kafka:\n  group: cloud-archive\n"},
			{Title: "Two topics, only new records", YAML: "kafka:\n  topics: [plant-7.frames, plant-8.frames]\n  brokers: [kafka-1:9092]\n  group: dashboards\n  start: newest\n"},
		},
	}, defaultSourceConfig, buildSource)
}

// Source emits the records of its topics.
type Source struct {
	topics []string
	sub    *kafkabus.Subscriber
}

func buildSource(_ context.Context, cfg *SourceConfig, env stages.Env) (stages.Source, error) {
	brokers, err := brokersFor(cfg.Brokers, env)
	if err != nil {
		return nil, err
	}
	group := cfg.Group
	if group == "" {
		group = "edgeflow." + env.Pipeline
	}
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{
		Brokers:         brokers,
		ConsumerGroup:   group,
		Start:           kafkabus.Start(cfg.Start),
		ClientID:        clientID(cfg.ClientID, env),
		NackResendSleep: cfg.NackDelay,
		CommitInterval:  cfg.CommitInterval,
		Logger:          watermill.NewSlogLogger(env.Log().With("stage", "kafka", "group", group)),
	})
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	return &Source{topics: cfg.allTopics(), sub: sub}, nil
}

// Read emits records until ctx ends (returning ctx.Err()) or reading fails.
func (s *Source) Read(ctx context.Context, emit stages.EmitFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The subscription ends with Read, whatever the reason.
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, err := s.sub.SubscribeTopics(subCtx, s.topics...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("kafka source: %w", err)
	}
	for msg := range msgs {
		err := emit(ctx, msg)
		switch {
		case err == nil:
			msg.Ack()
		case errors.Is(err, stages.ErrNacked):
			msg.Nack() // emitted again after nack_delay
		default:
			msg.Nack()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("kafka source: emit: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("kafka source: subscription ended (source closed)")
}

// Close ends reading and leaves the consumer group; it is idempotent.
func (s *Source) Close() error { return s.sub.Close() }
