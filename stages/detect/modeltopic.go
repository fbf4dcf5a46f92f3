package detect

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

// validateModelTopic checks model_topic and model_name.
func (c *Config) validateModelTopic() error {
	if c.ModelTopic == "" {
		if c.ModelName != "" {
			return stages.FieldErrorf("model_name", "model_name %q is set without model_topic", c.ModelName)
		}
		return nil
	}
	if err := kafkabus.ValidateTopic(c.ModelTopic); err != nil {
		return stages.FieldErrorf("model_topic", "%w", err)
	}
	return nil
}

// ModelFollower is the detect processor with model_topic set: a Detector
// that swaps to every new version of a federated global model published on
// the models topic (internal/fl/flkafka), exported to TensorFlow Lite.
type ModelFollower struct {
	*Detector
	name    string
	log     *slog.Logger
	sub     *kafkabus.Subscriber
	version atomic.Uint64 // the global model version running; 0: the model file
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

// followModelTopic starts following cfg.ModelTopic for d. On error d is closed.
func followModelTopic(d *Detector, cfg *Config, env stages.Env) (*ModelFollower, error) {
	brokers, err := flkafka.Brokers(nil, env.Node.Brokers)
	if err != nil {
		d.Close()
		return nil, stages.FieldErrorf("model_topic", "%w", err)
	}
	f := &ModelFollower{Detector: d, name: cfg.ModelName, done: make(chan struct{}),
		log: env.Log().With("stage", "detect", "model_topic", cfg.ModelTopic)}
	if f.name == "" {
		f.name = flkafka.DefaultModelName
	}
	client := "edgeflow"
	if env.Node.ID != "" {
		client = "edgeflow-" + env.Node.ID
	}
	f.sub, err = kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, Start: kafkabus.StartOldest,
		ClientID: client, DisableTopicCreation: true, Logger: watermill.NewSlogLogger(f.log)})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("detect: model_topic: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go f.follow(ctx, cfg.ModelTopic)
	return f, nil
}

func (f *ModelFollower) follow(ctx context.Context, topic string) {
	defer close(f.done)
	for ctx.Err() == nil {
		msgs, err := f.sub.Subscribe(ctx, topic)
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("cannot follow the models topic; retrying", "error", err)
				_ = stages.Sleep(ctx, 2*time.Second)
			}
			continue
		}
		flkafka.WatchModels(ctx, msgs, f.name, f.log, f.apply)
		for range msgs { // the subscription ends with ctx; drain it
		}
	}
}

// apply swaps to g when it is a newer version than the one running. The
// initial model (version 0) never replaces the model file.
func (f *ModelFollower) apply(ctx context.Context, g *flkafka.GlobalModel) {
	if g.Version <= f.version.Load() {
		return
	}
	data, err := model.ExportTFLite(g.Model, 1)
	if err == nil {
		err = f.SwapModel(ctx, data)
	}
	if err != nil {
		f.log.Warn("global model not swapped in", "version", g.Version, "round", g.Round, "error", err)
		return
	}
	f.version.Store(g.Version)
	f.log.Info("swapped to the global model", "version", g.Version, "round", g.Round)
}

// GlobalVersion is the version of the global model running, 0 while the
// model file runs.
func (f *ModelFollower) GlobalVersion() uint64 { return f.version.Load() }

// Close stops following the topic and closes the Detector. It is idempotent.
func (f *ModelFollower) Close() error {
	var err error
	f.once.Do(func() {
		f.cancel()
		<-f.done
		err = f.sub.Close()
		if cerr := f.Detector.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

var _ stages.Processor = (*ModelFollower)(nil)
