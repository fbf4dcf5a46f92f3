package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// ErrStop may be returned by a Handler to stop the consumer after the batch: the
// batch counts as handled (its message is acknowledged) and Run returns nil.
var ErrStop = errors.New("stop consuming")

// Handler gets each batch once. Returning nil acknowledges the batch (the offset
// of its message is committed once every batch of the message was handled); any
// other error, except ErrStop, makes the message be redelivered after
// ConsumerConfig.RetryDelay. The handler owns b.Readings and may keep it.
type Handler func(ctx context.Context, b Batch) error

// Start says where a consumer group with no committed offset starts reading.
type Start string

const (
	StartLatest   Start = "latest"   // only messages published from now on (default)
	StartEarliest Start = "earliest" // everything the topic still holds
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers []string // Kafka bootstrap brokers, host:port
	Topic   string   // topic to read (required)
	Group   string   // consumer group (required): offsets are committed for it
	Start   Start    // where a group without committed offsets starts; default StartLatest
	// DedupeWindow is how many sequence numbers below the highest seen are
	// remembered per (node, stream); default DefaultDedupeWindow.
	DedupeWindow int
	// RetryDelay is how long to wait before redelivering a message whose handler
	// failed; default 500ms.
	RetryDelay time.Duration
	// CreateTopic creates Topic when it is missing (1 partition) instead of
	// waiting for it to appear.
	CreateTopic bool
	// CommitInterval is how often the offsets of handled messages are
	// committed; default DefaultCommitInterval. Offsets are only ever committed
	// for messages the handler finished, so nothing is skipped; after a crash
	// up to CommitInterval of handled messages are read again (the
	// Deduplicator drops them unless the consumer restarted too). Negative
	// commits each message before the next is handed out: no re-reads, but
	// one broker round trip per message (tens of messages per second).
	CommitInterval time.Duration
	// LagInterval is how often the group's lag is asked from the brokers while
	// Run runs; default 1s, negative: never (Stats.Lag stays -1).
	LagInterval time.Duration
	Logger      *slog.Logger // default: discard
	// Subscriber replaces the Kafka subscriber (Brokers, Group and Start are then
	// ignored): any watermill subscriber whose messages carry the edgeflow metadata.
	Subscriber message.Subscriber
	// TracerProvider starts the spans "consume <topic>" (per message, continuing
	// the trace context of its headers) and "decode"; the handler gets the
	// context of the consume span. Nil: the global provider (otel.GetTracerProvider).
	TracerProvider trace.TracerProvider
}

// Consumer reads one topic with a consumer group and delivers batches of readings.
type Consumer struct {
	cfg   ConsumerConfig
	log   *slog.Logger
	sub   message.Subscriber
	ownSb bool
	stats *statsCollector
	lag   *lagReader // nil with an injected subscriber
	trc   *consumerTracer

	ackMu sync.Mutex
	acked map[int]int64 // partition → offset after the last acknowledged message

	mu    sync.Mutex // guards dedupe
	dedup *Deduplicator
	dec   *frame.Decoder
	block frame.Block

	closeOnce sync.Once
	closeErr  error
	running   atomic.Bool // Run has subscribed and not returned yet
}

// NewConsumer checks cfg and connects the subscriber; nothing is read before Run.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if cfg.Topic == "" {
		return nil, fmt.Errorf("cloud: consumer config: field Topic is empty")
	}
	if cfg.Subscriber == nil {
		if cfg.Group == "" {
			return nil, fmt.Errorf("cloud: consumer config: field Group is empty")
		}
		if len(cfg.Brokers) == 0 {
			return nil, fmt.Errorf("cloud: consumer config: field Brokers is empty")
		}
	}
	switch cfg.Start {
	case "":
		cfg.Start = StartLatest
	case StartLatest, StartEarliest:
	default:
		return nil, fmt.Errorf("cloud: consumer config: field Start is %q, want %q or %q", cfg.Start, StartLatest, StartEarliest)
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 500 * time.Millisecond
	}
	if cfg.LagInterval == 0 {
		cfg.LagInterval = time.Second
	}
	c := &Consumer{cfg: cfg, log: cfg.Logger, stats: newStatsCollector(), acked: map[int]int64{},
		dedup: NewDeduplicator(cfg.DedupeWindow), dec: frame.NewDecoder(),
		trc: newConsumerTracer(cfg.TracerProvider, cfg.Topic)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.sub = cfg.Subscriber
	if c.sub == nil {
		sub, err := newKafkaSubscriber(cfg, c.log)
		if err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		c.sub, c.ownSb = sub, true
		c.lag = newLagReader(cfg.Brokers, cfg.Topic, cfg.Group, cfg.Start)
	}
	return c, nil
}

// Stats returns a snapshot of the counters; safe to call at any time.
func (c *Consumer) Stats() Stats { return c.stats.snapshot() }

// Lag asks the brokers now how many messages of the topic the group has not
// committed yet, summed over partitions, and updates Stats.Lag.
func (c *Consumer) Lag(ctx context.Context) (int64, error) {
	if c.lag == nil {
		return -1, fmt.Errorf("cloud: lag is only known for Kafka consumers")
	}
	l, err := c.lag.lag(ctx)
	if err != nil {
		return -1, fmt.Errorf("cloud: %w", err)
	}
	c.stats.setLag(l)
	return l, nil
}

// pollLag refreshes Stats.Lag every interval until ctx ends.
func (c *Consumer) pollLag(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			qctx, cancel := context.WithTimeout(ctx, interval+5*time.Second)
			if _, err := c.Lag(qctx); err != nil && ctx.Err() == nil {
				c.log.Debug("reading consumer lag", "err", err)
			}
			cancel()
		}
	}
}

// Close closes the Kafka subscriber (not one passed in ConsumerConfig.Subscriber).
// It is idempotent.
func (c *Consumer) Close() error {
	c.closeOnce.Do(func() {
		if c.ownSb {
			c.closeErr = c.sub.Close()
		}
	})
	return c.closeErr
}

// Run reads messages and calls h for each new batch until ctx ends (it returns
// ctx.Err()), h returns ErrStop (nil), or the subscription fails. Batches are
// delivered one at a time, in partition order. On return the consumer has left
// the group and the offsets of every handled message are committed (when the
// group has no other members; otherwise they commit their own). Run may be
// called again after it returned, not while it runs.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, err := c.sub.Subscribe(subCtx, c.cfg.Topic)
	if err != nil {
		return fmt.Errorf("cloud: subscribe to topic %q: %w", c.cfg.Topic, err)
	}
	if c.lag != nil && c.cfg.LagInterval > 0 {
		go c.pollLag(subCtx, c.cfg.LagInterval)
	}
	c.running.Store(true)
	err = c.consume(subCtx, msgs, h)
	c.running.Store(false)
	cancel()
	if c.ownSb {
		c.leave(msgs)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}

// consume handles messages until the subscription ends; nil means ErrStop.
func (c *Consumer) consume(ctx context.Context, msgs <-chan *message.Message, h Handler) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("cloud: subscription to topic %q ended", c.cfg.Topic)
			}
			stop, err := c.handle(ctx, msg, h)
			if err != nil {
				return err
			}
			if stop {
				return nil
			}
		}
	}
}

// leave waits (boundedly) for the cancelled Kafka subscription to leave the
// group, then commits the offsets of acknowledged messages the subscription
// may not have committed before it stopped.
func (c *Consumer) leave(msgs <-chan *message.Message) {
	timeout := time.NewTimer(15 * time.Second)
	defer timeout.Stop()
	for open := true; open; {
		select {
		case _, open = <-msgs:
		case <-timeout.C:
			c.log.Warn("subscription did not end in time; offsets of the last messages may be committed late")
			return
		}
	}
	c.ackMu.Lock()
	next := maps.Clone(c.acked)
	c.ackMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.lag.commitFinal(ctx, next); err != nil {
		c.log.Debug("final offset commit skipped", "err", err)
	}
}

// ack acknowledges msg and remembers its offset for the final commit.
func (c *Consumer) ack(msg *message.Message, pos Position) {
	msg.Ack()
	if pos.Partition >= 0 && pos.Offset >= 0 && pos.Topic == c.cfg.Topic {
		c.ackMu.Lock()
		c.acked[pos.Partition] = pos.Offset + 1
		c.ackMu.Unlock()
	}
}

// handle processes one message and acknowledges or rejects it. stop reports
// ErrStop from the handler; err is only ctx.Err().
func (c *Consumer) handle(ctx context.Context, msg *message.Message, h Handler) (stop bool, err error) {
	c.stats.received()
	pos := positionOf(msg, c.cfg.Topic)
	ctx, span := c.trc.startConsume(ctx, msg, pos)
	defer span.End()
	dspan := c.trc.startDecode(ctx)
	batches, err := c.decode(msg, pos)
	endDecode(dspan, batches, err)
	if err != nil {
		failSpan(span, err)
		c.stats.decodeError(msg.Metadata.Get(stages.MetaNode))
		c.log.Warn("skipping undecodable message", "topic", pos.Topic, "partition", pos.Partition,
			"offset", pos.Offset, "kind", msg.Metadata.Get(stages.MetaKind), "err", err)
		c.ack(msg, pos)
		return false, nil
	}
	for i := range batches {
		b := &batches[i]
		v := New
		if b.Kind == stages.KindFrame {
			c.mu.Lock()
			v = c.dedup.Check(b.Key(), b.Seq, b.Header.FirstTimestamp)
			c.mu.Unlock()
			if !v.Deliver() {
				if span.IsRecording() {
					span.AddEvent("duplicate frame dropped", trace.WithAttributes(telemetry.AttrNodeID.String(b.Node),
						telemetry.AttrStream.String(b.Stream), attribute.Int64("edgeflow.seq", int64(b.Seq))))
				}
				c.stats.duplicate(b.Node, v)
				c.log.Debug("dropping frame already delivered", "node", b.Node, "stream", b.Stream,
					"seq", b.Seq, "verdict", v.String(), "position", pos.String())
				continue
			}
		}
		herr := h(ctx, *b)
		if herr != nil && !errors.Is(herr, ErrStop) {
			failSpan(span, herr)
			c.stats.handlerError()
			c.log.Warn("handler failed; message will be redelivered", "position", pos.String(), "err", herr)
			if c.ownSb {
				msg.Nack() // the Kafka subscriber waits RetryDelay before redelivering
				return false, nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(c.cfg.RetryDelay):
			}
			msg.Nack()
			return false, ctx.Err()
		}
		if b.Kind == stages.KindFrame {
			c.mu.Lock()
			c.dedup.Record(b.Key(), b.Seq, b.Header.FirstTimestamp)
			c.mu.Unlock()
			if v == Restarted {
				c.stats.restarted()
				c.log.Info("frame numbering of a stream started again (node restart); delivered",
					"node", b.Node, "stream", b.Stream, "seq", b.Seq, "position", pos.String())
			}
		}
		c.stats.delivered(b)
		if herr != nil {
			c.ack(msg, pos)
			return true, nil
		}
	}
	c.ack(msg, pos)
	return false, nil
}

// decode turns a message into batches: one per frame, or one for readings.
func (c *Consumer) decode(msg *message.Message, pos Position) ([]Batch, error) {
	switch kind := msg.Metadata.Get(stages.MetaKind); kind {
	case stages.KindFrame:
		bs, err := c.decodeFrames(msg.Payload)
		for i := range bs {
			bs[i].Position = pos
		}
		return bs, err
	case stages.KindReadings:
		b, err := readingsBatch(msg.Payload, msg.Metadata)
		b.Position = pos
		return []Batch{b}, err
	default:
		return nil, fmt.Errorf("header %s is %q, want %q or %q", stages.MetaKind, kind, stages.KindFrame, stages.KindReadings)
	}
}

// decodeFrames decodes a frame payload: one frame, or several concatenated.
func (c *Consumer) decodeFrames(payload []byte) ([]Batch, error) {
	var out []Batch
	for src := payload; len(src) > 0; {
		off := len(payload) - len(src)
		f, rest, err := frame.Next(src)
		if err != nil {
			return nil, fmt.Errorf("frame at byte %d: %w", off, err)
		}
		b, err := decodeFrame(c.dec, f, &c.block)
		if err != nil {
			return nil, fmt.Errorf("frame at byte %d: %w", off, err)
		}
		out = append(out, b)
		src = rest
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty frame payload: %w", frame.ErrCorrupt)
	}
	return out, nil
}
