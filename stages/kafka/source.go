package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "kafka",
		Summary: "Read messages from Kafka topics in a consumer group, committing after the pipeline acks.",
		Description: `Reads one or more topics as a member of a consumer group and emits each record
as a message: the value as payload, metadata restored from the record headers
(the UUID from header ` + "`" + kafkabus.HeaderUUID + "`" + `). Records are emitted in partition
order, up to ` + "`max_in_flight`" + ` of them before they are acknowledged, so that a buffering
stage behind the source (encode) fills its frames; a full window asks the pipeline
to flush at once. A partition's offset is committed only past records the
pipeline acknowledged (every sink wrote their data), and never past one that was
not, whatever the order of the acknowledgements. A record the pipeline rejected
while processing it is emitted again (before later ones) after a backoff. After
a restart the group resumes after the last committed record, so every record is
processed at least once; records processed but not yet committed when the node
stopped are read again. On a clean stop the source waits up to 10s for the
acknowledgements of the records in flight (the runtime flushes the buffering
stages) and commits them. Several pipelines with the same group share the
partitions between them. The source is declared as producing frames (what edge
nodes publish); each message keeps the edgeflow-kind metadata its producer set.`,
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
	topics      []string
	sub         *kafkabus.Subscriber
	maxInFlight int
	log         *slog.Logger
}

// drainWait bounds how long Read, once its context ended, waits for the
// acknowledgements of the records in flight, so that their offsets are
// committed and a restart does not read them again. The runtime flushes its
// buffering stages as soon as it drains, so they normally come at once.
const drainWait = 10 * time.Second

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
		Brokers:           brokers,
		ConsumerGroup:     group,
		Start:             kafkabus.Start(cfg.Start),
		ClientID:          clientID(cfg.ClientID, env),
		NackResendSleep:   cfg.NackDelay,
		CommitInterval:    cfg.CommitInterval,
		MaxInFlight:       cfg.MaxInFlight,
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		Logger:            watermill.NewSlogLogger(env.Log().With("stage", "kafka", "group", group)),
	})
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	return &Source{topics: cfg.allTopics(), sub: sub, maxInFlight: cfg.MaxInFlight,
		log: env.Log().With("stage", "kafka", "group", group)}, nil
}

// Read emits records until ctx ends (returning ctx.Err()) or reading fails.
func (s *Source) Read(ctx context.Context, emit stages.EmitFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The subscription ends with Read, whatever the reason, and not before:
	// once ctx ended, the acknowledgements of records in flight may still come
	// (see awaitInFlight), and the subscription commits them as it ends. Only
	// subscribing (creating a missing topic) is cut short by ctx.
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopCancel := context.AfterFunc(ctx, cancel)
	msgs, err := s.sub.SubscribeTopics(subCtx, s.topics...)
	if !stopCancel() || err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("kafka source: %w", err)
	}
	if s.maxInFlight > 1 {
		return s.readAhead(ctx, msgs, emit)
	}
	return s.readOneByOne(ctx, msgs, emit)
}

// readOneByOne emits one record at a time, waiting for its acknowledgement
// (max_in_flight 1): a rejected record is emitted again after nack_delay.
func (s *Source) readOneByOne(ctx context.Context, msgs <-chan *message.Message, emit stages.EmitFunc) error {
	for {
		var msg *message.Message
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return errSubscriptionEnded
			}
			msg = m
		}
		// A copy: the pipeline acks the message it was handed once its chain
		// ran, which behind a buffering stage is before its data was written;
		// the record is Acked (and committed) only when emit says so.
		err := emit(ctx, msg.CopyWithContext())
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
}

var errSubscriptionEnded = errors.New("kafka source: subscription ended (source closed)")

// readAhead emits records through a stages.Window: many in flight, each record
// acknowledged to the subscriber (which commits offsets in order) once the
// pipeline acknowledged it. The window stays one under the subscriber's bound,
// so that a full window is noticed by the window (which asks for a flush)
// rather than by the subscriber (which would just stop handing out records).
func (s *Source) readAhead(ctx context.Context, msgs <-chan *message.Message, emit stages.EmitFunc) error {
	window := stages.NewWindow(ctx, emit, func(err error, wait time.Duration) {
		s.log.Warn("kafka source: record nacked; emitting it again", "err", err, "wait", wait)
	})
	window.Bound(s.maxInFlight - 1)
	for {
		select {
		case <-ctx.Done():
			s.awaitInFlight(ctx, window)
			return ctx.Err()
		case <-window.Ready():
			if err := window.Collect(ctx); err != nil {
				return s.ended(ctx, window, err)
			}
		case msg, ok := <-msgs:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return errSubscriptionEnded
			}
			if err := window.Emit(ctx, msg, func() { msg.Ack() }); err != nil {
				return s.ended(ctx, window, err)
			}
		}
	}
}

// ended handles an error of the window: the end of ctx, or of the pipeline.
func (s *Source) ended(ctx context.Context, window *stages.Window, err error) error {
	if ctx.Err() != nil {
		s.awaitInFlight(ctx, window)
		return ctx.Err()
	}
	return fmt.Errorf("kafka source: emit: %w", err)
}

// awaitInFlight waits, at most drainWait, for the records in flight when the
// source stops to be acknowledged, so that their offsets are committed when
// the subscription ends (Read's deferred cancel). Those not acknowledged by
// then are read again after a restart.
func (s *Source) awaitInFlight(ctx context.Context, window *stages.Window) {
	if window.InFlight() == 0 {
		return
	}
	waitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainWait)
	defer cancel()
	if err := window.Wait(waitCtx); err != nil {
		s.log.Info("kafka source: records in flight at the stop not acknowledged; they are read again after a restart",
			"records", window.InFlight(), "err", err)
	}
}

// Close ends reading and leaves the consumer group; it is idempotent.
func (s *Source) Close() error { return s.sub.Close() }
