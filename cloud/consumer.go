package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// ErrStop may be returned by a Handler to stop the consumer after the batch: the
// batch counts as handled (its message is acknowledged) and Run returns nil.
var ErrStop = errors.New("stop consuming")

// Handler gets each batch once. Returning nil acknowledges the batch (the offset
// of its message is committed once every batch of the message was handled); any
// other error, except ErrStop, makes the message be redelivered after
// ConsumerConfig.RetryDelay.
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
	Logger     *slog.Logger // default: discard
	// Subscriber replaces the Kafka subscriber (Brokers, Group and Start are then
	// ignored): any watermill subscriber whose messages carry the edgeflow metadata.
	Subscriber message.Subscriber
}

// Consumer reads one topic with a consumer group and delivers batches of readings.
type Consumer struct {
	cfg   ConsumerConfig
	log   *slog.Logger
	sub   message.Subscriber
	ownSb bool
	stats *statsCollector

	mu    sync.Mutex // guards dedupe
	dedup *Deduplicator
	dec   *frame.Decoder
	block frame.Block

	closeOnce sync.Once
	closeErr  error
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
	c := &Consumer{cfg: cfg, log: cfg.Logger, stats: newStatsCollector(),
		dedup: NewDeduplicator(cfg.DedupeWindow), dec: frame.NewDecoder()}
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
	}
	return c, nil
}

// Stats returns a snapshot of the counters; safe to call at any time.
func (c *Consumer) Stats() Stats { return c.stats.snapshot() }

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
// delivered one at a time.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, err := c.sub.Subscribe(ctx, c.cfg.Topic)
	if err != nil {
		return fmt.Errorf("cloud: subscribe to topic %q: %w", c.cfg.Topic, err)
	}
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

// handle processes one message and acknowledges or rejects it. stop reports
// ErrStop from the handler; err is only ctx.Err().
func (c *Consumer) handle(ctx context.Context, msg *message.Message, h Handler) (stop bool, err error) {
	c.stats.received()
	pos := positionOf(msg, c.cfg.Topic)
	if lag, ok := lagOf(msg); ok {
		c.stats.setLag(pos.Topic, pos.Partition, lag)
	}
	batches, err := c.decode(msg, pos)
	if err != nil {
		c.stats.decodeError(msg.Metadata.Get(stages.MetaNode))
		c.log.Warn("skipping undecodable message", "topic", pos.Topic, "partition", pos.Partition,
			"offset", pos.Offset, "kind", msg.Metadata.Get(stages.MetaKind), "err", err)
		msg.Ack()
		return false, nil
	}
	for i := range batches {
		b := &batches[i]
		if b.Kind == stages.KindFrame {
			c.mu.Lock()
			v := c.dedup.Check(b.Key(), b.Seq)
			c.mu.Unlock()
			if v != New {
				c.stats.duplicate(b.Node, v)
				c.log.Debug("dropping frame already delivered", "node", b.Node, "stream", b.Stream,
					"seq", b.Seq, "verdict", v.String(), "position", pos.String())
				continue
			}
		}
		herr := h(ctx, *b)
		if herr != nil && !errors.Is(herr, ErrStop) {
			c.stats.handlerError()
			c.log.Warn("handler failed; message will be redelivered", "position", pos.String(), "err", herr)
			select {
			case <-ctx.Done():
			case <-time.After(c.cfg.RetryDelay):
			}
			msg.Nack()
			return false, ctx.Err()
		}
		if b.Kind == stages.KindFrame {
			c.mu.Lock()
			c.dedup.Record(b.Key(), b.Seq)
			c.mu.Unlock()
		}
		c.stats.delivered(b)
		if herr != nil {
			msg.Ack()
			return true, nil
		}
	}
	msg.Ack()
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
	for off := 0; off < len(payload); {
		n, err := frame.FrameLen(payload[off:])
		if err != nil {
			return nil, fmt.Errorf("frame at byte %d: %w", off, err)
		}
		b, err := decodeFrame(c.dec, payload[off:off+n], &c.block)
		if err != nil {
			return nil, fmt.Errorf("frame at byte %d: %w", off, err)
		}
		out = append(out, b)
		off += n
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty frame payload: %w", frame.ErrCorrupt)
	}
	return out, nil
}

// positionOf reads where msg came from out of the metadata the Kafka subscriber sets.
func positionOf(msg *message.Message, topic string) Position {
	p := Position{Topic: topic, Partition: -1, Offset: -1}
	if v, err := strconv.Atoi(msg.Metadata.Get(metaPartition)); err == nil {
		p.Partition = v
	}
	if v, err := strconv.ParseInt(msg.Metadata.Get(metaOffset), 10, 64); err == nil {
		p.Offset = v
	}
	if t := msg.Metadata.Get(metaTopic); t != "" {
		p.Topic = t
	}
	return p
}

// lagOf is how many messages of the partition follow msg, when the subscriber says.
func lagOf(msg *message.Message) (int64, bool) {
	hw, err := strconv.ParseInt(msg.Metadata.Get(metaHighWaterMark), 10, 64)
	if err != nil {
		return 0, false
	}
	off, err := strconv.ParseInt(msg.Metadata.Get(metaOffset), 10, 64)
	if err != nil {
		return 0, false
	}
	return hw - off - 1, true
}
