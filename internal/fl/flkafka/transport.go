package flkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/model"
)

// Publisher is what Transport needs of a Kafka publisher
// (*kafkabus.Publisher, configured with Key: ModelKey).
type Publisher interface {
	PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error
}

// TransportConfig configures a Transport. Publisher and Updates are required.
type TransportConfig struct {
	Name        string // the model's name (default DefaultModelName)
	ModelsTopic string // default DefaultModelsTopic
	Publisher   Publisher
	// Updates is a subscription to the updates topic. Transport acks every
	// message it takes; records of other models are skipped.
	Updates <-chan *message.Message
	// RoundTimeout is the round policy's timeout: a broadcast's deadline is
	// this long after it is sent.
	RoundTimeout time.Duration
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger
}

// Transport is aggregate.Transport over Kafka: Broadcast publishes the
// global model to the models topic, Receive takes the next update from the
// updates topic. Safe for one RunRound at a time.
type Transport struct {
	cfg TransportConfig

	mu        sync.Mutex
	version   uint64
	malformed int
}

// NewTransport checks cfg and returns a Transport whose next broadcast
// carries version 0.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	if cfg.Publisher == nil || cfg.Updates == nil {
		return nil, errors.New("flkafka transport: Publisher and Updates are required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultModelName
	}
	if cfg.ModelsTopic == "" {
		cfg.ModelsTopic = DefaultModelsTopic
	}
	if cfg.RoundTimeout <= 0 {
		return nil, fmt.Errorf("flkafka transport: round timeout %v, want > 0", cfg.RoundTimeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Transport{cfg: cfg}, nil
}

// SetVersion sets the version the next broadcasts carry: the number of
// aggregations folded into the global model.
func (t *Transport) SetVersion(v uint64) {
	t.mu.Lock()
	t.version = v
	t.mu.Unlock()
}

// Malformed counts the update records that could not be decoded.
func (t *Transport) Malformed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.malformed
}

// Broadcast publishes global as round's model for the selected nodes, with
// the deadline RoundTimeout from now.
func (t *Transport) Broadcast(ctx context.Context, round uint64, selected []string, global model.Model) error {
	t.mu.Lock()
	v := t.version
	t.mu.Unlock()
	return t.Publish(ctx, &GlobalModel{Name: t.cfg.Name, Round: round, Version: v, Selected: selected,
		Deadline: t.cfg.Now().Add(t.cfg.RoundTimeout), Model: global})
}

// Publish writes g to the models topic.
func (t *Transport) Publish(ctx context.Context, g *GlobalModel) error {
	msg, err := g.Message()
	if err != nil {
		return err
	}
	if err := t.cfg.Publisher.PublishContext(ctx, t.cfg.ModelsTopic, msg); err != nil {
		return fmt.Errorf("publish model %q round %d to %s: %w", g.Name, g.Round, t.cfg.ModelsTopic, err)
	}
	return nil
}

// Receive returns the next update of this model, or nil (and no error) for
// a record that is not one: another model's, or malformed (logged and
// counted). It fails when ctx ends or the subscription closed.
func (t *Transport) Receive(ctx context.Context) (*model.Update, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case msg, ok := <-t.cfg.Updates:
		if !ok {
			return nil, errors.New("flkafka transport: the updates subscription closed")
		}
		msg.Ack()
		if name := msg.Metadata.Get(HeaderModel); name != "" && name != t.cfg.Name {
			return nil, nil
		}
		u, err := model.DecodeUpdate(msg.Payload)
		if err != nil {
			t.mu.Lock()
			t.malformed++
			t.mu.Unlock()
			t.cfg.Logger.Warn("update skipped", "message", msg.UUID, "node", msg.Metadata.Get("edgeflow-node"), "error", err)
			return nil, nil
		}
		return u, nil
	}
}

// WatchModels calls fn with every global model named name that arrives on
// msgs (a subscription to the models topic), in order, acking each record
// after fn returned. Records that do not decode are logged and skipped. It
// returns when ctx ends or msgs closes.
func WatchModels(ctx context.Context, msgs <-chan *message.Message, name string, log *slog.Logger, fn func(context.Context, *GlobalModel)) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-msgs:
			if !ok {
				return
			}
			if n := msg.Metadata.Get(HeaderModel); n != name {
				msg.Ack()
				continue
			}
			g, err := ParseGlobalModel(msg)
			if err != nil {
				log.Warn("global model skipped", "message", msg.UUID, "error", err)
				msg.Ack()
				continue
			}
			fn(ctx, g)
			msg.Ack()
		}
	}
}

var _ aggregate.Transport = (*Transport)(nil)
