package train

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fl/anomaly"
	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	fltrain "github.com/edgeflow/edgeflow/internal/fl/train"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// maxPending bounds the examples waiting for the rest of their features.
const maxPending = 4096

// Metric names an update carries besides train_loss, train_accuracy and
// train_seconds (see fltrain.Trainer.LocalUpdate).
const (
	// MetricEvalLoss and MetricEvalAccuracy measure the round's global model
	// on the node's examples before training: how good the model the
	// federation produced is on data it has not been fitted to this round.
	MetricEvalLoss     = "eval_loss"
	MetricEvalAccuracy = "eval_accuracy"
	// MetricModelVersion is the version of the global model trained from.
	MetricModelVersion = "model_version"
)

// LocalTrainer is the train processor: it keeps the node's labelled examples
// and trains on them for every round the node is selected for.
type LocalTrainer struct {
	cfg    *Config
	node   string
	log    *slog.Logger
	sub    *kafkabus.Subscriber
	stream map[string]int // feature stream → position
	dim    int            // an example's features: the model's input width
	window anomaly.WindowConfig
	encode model.EncodeOptions

	mu       sync.Mutex
	features []float32 // ring of MaxExamples rows
	labels   []uint8
	next     int // ring position of the next example
	count    int // examples held, ≤ MaxExamples
	pending  map[exampleKey]*partialExample
	order    []exampleKey // pending keys, oldest first
	outbox   []*message.Message
	skipped  int // examples whose label is missing or out of range
	// windowers make the windows of each node's stream (window.size > 0).
	windowers map[string]*anomaly.Windower

	trainer      *fltrain.Trainer // used by the watch goroutine only, for trainerOf
	trainerOf    model.Layout
	lastRound    uint64    // the watch goroutine's: the last round trained
	lastDeadline time.Time // and its deadline (a coordinator started afresh reuses round ids)

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

type exampleKey struct {
	node string
	ns   int64
}

type partialExample struct {
	vals  []float64
	have  []bool
	n     int
	label int // -1: not seen yet
}

func build(_ context.Context, cfg *Config, env stages.Env) (stages.Processor, error) {
	if env.Node.ID == "" {
		return nil, errors.New("train: the node has no id: updates must say which node trained")
	}
	brokers, err := flkafka.Brokers(cfg.Brokers, env.Node.Brokers)
	if err != nil {
		return nil, stages.FieldErrorf("brokers", "%w", err)
	}
	log := env.Log().With("stage", "train", "model", cfg.ModelName)
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{
		Brokers: brokers,
		// A fresh group per start, from the oldest retained record: the
		// compacted topic's latest model (and any round still open) is seen
		// after a restart; rounds past their deadline are skipped.
		Start:                kafkabus.StartOldest,
		ClientID:             "edgeflow-" + env.Node.ID,
		DisableTopicCreation: true, // the cloud creates it, compacted
		Logger:               watermill.NewSlogLogger(log),
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	s := &LocalTrainer{
		cfg: cfg, node: env.Node.ID, log: log, sub: sub, stream: map[string]int{},
		features: make([]float32, 0, len(cfg.Features)*min(cfg.MaxExamples, 1024)),
		pending:  map[exampleKey]*partialExample{},
		done:     make(chan struct{}),
	}
	for i, f := range cfg.Features {
		s.stream[f] = i
	}
	s.dim = len(cfg.Features)
	if cfg.Window.Size > 0 {
		s.window = anomaly.WindowConfig{Size: cfg.Window.Size, Warmup: cfg.Window.Warmup, MinStd: cfg.Window.MinStd, Clip: cfg.Window.Clip}
		s.dim = s.window.Dim(len(cfg.Features))
		s.windowers = map[string]*anomaly.Windower{}
	}
	s.encode.Compress = cfg.Compress
	s.encode.Seed = cfg.Seed
	switch cfg.Quantization {
	case QuantizeFloat16:
		s.encode.Quantization = model.Float16
	case QuantizeInt8:
		s.encode.Quantization = model.Int8
	}
	return s, nil
}

// start begins following the models topic, once.
func (s *LocalTrainer) start() {
	s.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.mu.Lock()
		s.cancel = cancel
		s.mu.Unlock()
		go s.watch(ctx)
	})
}

func (s *LocalTrainer) watch(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		msgs, err := s.sub.Subscribe(ctx, s.cfg.ModelsTopic)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("cannot follow the models topic; retrying", "topic", s.cfg.ModelsTopic, "error", err)
				_ = stages.Sleep(ctx, 2*time.Second)
			}
			continue
		}
		flkafka.WatchModels(ctx, msgs, s.cfg.ModelName, s.log, s.onModel)
		for range msgs { // the subscription ends with ctx; drain it
		}
	}
}

// Process adds the labelled examples in a readings message and emits
// nothing.
func (s *LocalTrainer) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	s.start()
	if k := msg.Metadata.Get(stages.MetaKind); k != "" && k != stages.KindReadings {
		return nil, stages.Malformed(fmt.Errorf("train: message %s of kind %q, want readings", msg.UUID, k))
	}
	rs, err := reading.DecodePayload(msg.Payload, nil)
	if err != nil {
		return nil, stages.Malformed(fmt.Errorf("train: message %s: %w", msg.UUID, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		if i, ok := s.stream[r.Stream]; ok {
			s.add(r, i)
		}
	}
	return nil, nil
}

// add files reading r as feature i of its example; s.mu is held.
func (s *LocalTrainer) add(r reading.Reading, i int) {
	key := exampleKey{r.Node, r.Time.UnixNano()}
	p := s.pending[key]
	if p == nil {
		dim := len(s.cfg.Features)
		p = &partialExample{vals: make([]float64, dim), have: make([]bool, dim), label: -1}
		s.pending[key] = p
		s.order = append(s.order, key)
		if len(s.order) > maxPending {
			delete(s.pending, s.order[0])
			s.order = s.order[1:]
		}
	}
	if !p.have[i] {
		p.have[i] = true
		p.n++
	}
	p.vals[i] = r.Value
	if l, ok := r.Labels[s.cfg.Label]; ok {
		if c, err := strconv.Atoi(l); err == nil && c >= 0 && c < s.cfg.Classes {
			p.label = c
		} else {
			p.label = -2
		}
	}
	if p.n < len(p.vals) {
		return
	}
	delete(s.pending, key)
	if len(s.order) > 0 && s.order[0] == key {
		s.order = s.order[1:]
	}
	if len(s.order) > 2*len(s.pending)+64 { // forget keys completed out of order
		kept := s.order[:0]
		for _, k := range s.order {
			if s.pending[k] != nil {
				kept = append(kept, k)
			}
		}
		s.order = kept
	}
	vals := p.vals
	for j := range vals {
		if len(s.cfg.FeatureMean) > 0 {
			vals[j] -= s.cfg.FeatureMean[j]
		}
		if len(s.cfg.FeatureScale) > 0 {
			vals[j] /= s.cfg.FeatureScale[j]
		}
	}
	var row []float32
	if s.cfg.Window.Size > 0 {
		w := s.windowers[key.node]
		if w == nil {
			var err error
			if w, err = anomaly.NewWindower(s.window, len(vals)); err != nil {
				s.skipped++ // not reached: the config was validated
				return
			}
			s.windowers[key.node] = w
		}
		win, ok, err := w.Push(vals)
		if err != nil {
			s.skipped++
			return
		}
		if !ok || p.label < 0 { // warming up, or unlabelled: statistics only
			if p.label < 0 {
				s.skipped++
			}
			return
		}
		row = win.AppendFeatures(make([]float32, 0, s.dim), s.window)
	} else {
		if p.label < 0 {
			s.skipped++
			return
		}
		row = make([]float32, len(vals))
		for j, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
				s.skipped++
				return
			}
			row[j] = float32(v)
		}
	}
	s.store(row, uint8(p.label))
}

// store keeps one example, overwriting the oldest when full; s.mu is held.
func (s *LocalTrainer) store(row []float32, label uint8) {
	if s.count < s.cfg.MaxExamples {
		s.features = append(s.features, row...)
		s.labels = append(s.labels, label)
		s.count++
	} else {
		copy(s.features[s.next*s.dim:], row)
		s.labels[s.next] = label
	}
	s.next = (s.next + 1) % s.cfg.MaxExamples
}

// Examples is the number of labelled examples held.
func (s *LocalTrainer) Examples() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// dataset copies the examples held.
func (s *LocalTrainer) dataset() fltrain.Dataset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fltrain.Dataset{
		Features: append([]float32(nil), s.features...),
		Labels:   append([]uint8(nil), s.labels...),
		Dim:      s.dim, Classes: s.cfg.Classes,
	}
}

// onModel trains for round g when the node is selected and the round is
// still open.
func (s *LocalTrainer) onModel(ctx context.Context, g *flkafka.GlobalModel) {
	log := s.log.With("round", g.Round, "version", g.Version)
	switch {
	case !g.IsSelected(s.node):
		log.Debug("not selected for the round")
		return
	case g.Round == s.lastRound && g.Deadline.Equal(s.lastDeadline):
		log.Debug("round already trained")
		return
	case !time.Now().Before(g.Deadline):
		log.Debug("round past its deadline", "deadline", g.Deadline)
		return
	}
	widths, err := model.MLPWidths(g.Model.Layout)
	if err != nil || widths[0] != s.dim || widths[len(widths)-1] != s.cfg.Classes {
		log.Warn("global model does not fit: want an MLP of input width the example's features and output width classes",
			"layout", fmt.Sprint(g.Model.Layout), "input_width", s.dim, "classes", s.cfg.Classes, "error", err)
		return
	}
	data := s.dataset()
	if data.Len() < s.cfg.MinExamples {
		log.Warn("too few examples to train; round skipped", "examples", data.Len(), "min_examples", s.cfg.MinExamples)
		return
	}
	u, err := s.trainRound(ctx, g, data)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("local training failed", "error", err)
		}
		return
	}
	msg, err := flkafka.UpdateMessage(s.cfg.ModelName, u, s.encode)
	if err != nil {
		log.Error("update not encoded", "error", err)
		return
	}
	s.lastRound, s.lastDeadline = g.Round, g.Deadline
	s.mu.Lock()
	s.outbox = append(s.outbox, msg)
	s.mu.Unlock()
	loss, _ := u.Metric("train_loss")
	evalLoss, _ := u.Metric(MetricEvalLoss)
	log.Info("trained", "examples", u.Examples, "train_loss", loss, "eval_loss", evalLoss)
}

func (s *LocalTrainer) trainRound(ctx context.Context, g *flkafka.GlobalModel, data fltrain.Dataset) (*model.Update, error) {
	start := time.Now()
	if s.trainer == nil || !s.trainerOf.Equal(g.Model.Layout) {
		t, err := fltrain.NewTrainer(g.Model.Layout)
		if err != nil {
			return nil, err
		}
		s.trainer, s.trainerOf = t, g.Model.Layout.Clone()
	}
	eval, err := s.trainer.Evaluate(ctx, g.Model, data)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(s.node))
	cfg := fltrain.Config{
		LearningRate: float32(s.cfg.LearningRate), BatchSize: s.cfg.BatchSize, Epochs: s.cfg.Epochs,
		ProximalMu: float32(s.cfg.ProximalMu), Seed: s.cfg.Seed ^ h.Sum64() ^ g.Round*0x9e3779b97f4a7c15,
	}
	u, err := s.trainer.LocalUpdate(ctx, g.Round, s.node, g.Model, data, cfg)
	if err != nil {
		return nil, err
	}
	u.Metrics = append(u.Metrics,
		model.Metric{Name: MetricEvalLoss, Value: eval.Loss},
		model.Metric{Name: MetricEvalAccuracy, Value: eval.Accuracy},
		model.Metric{Name: MetricModelVersion, Value: float64(g.Version)})
	if wait := s.cfg.MinTrainTime - time.Since(start); wait > 0 {
		if err := stages.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Flush emits the updates trained since the last flush.
func (s *LocalTrainer) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	s.start()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.outbox
	s.outbox = nil
	return out, nil
}

// Close stops following the models topic. It is idempotent.
func (s *LocalTrainer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() { close(s.done) }) // never started
		s.mu.Lock()
		cancel := s.cancel
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		<-s.done
		err = s.sub.Close()
	})
	return err
}

var (
	_ stages.Processor = (*LocalTrainer)(nil)
	_ stages.Flusher   = (*LocalTrainer)(nil)
	_ stages.Closer    = (*LocalTrainer)(nil)
)
