package simulate

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/fl/train"
)

// Config is one federated training run.
type Config struct {
	Clients []train.Dataset // one dataset a client; client i is node "client%03d"
	Test    train.Dataset
	Widths  []int // MLP layer widths, input first
	Train   train.Config
	// Sampling of each round's clients (McMahan et al.'s C is Fraction).
	Sampling  aggregate.Sampling
	Aggregate aggregate.Config
	Uplink    model.EncodeOptions // how clients encode their updates
	// Downlink is how the cloud encodes the global model; clients train from
	// what they decode (lossy with quantisation), the cloud keeps float32.
	Downlink model.EncodeOptions
	Rounds   int // at most this many rounds
	// StopAt ends the run after the first round whose test accuracy reaches
	// it (0: run every round).
	StopAt  float64
	Workers int    // clients trained at once; 0: GOMAXPROCS
	Seed    uint64 // initial model and per-round training seeds
	// Initial is the model of round 1; with no parameters it is
	// model.NewMLP(Seed, Widths...) (Glorot uniform weights, zero biases).
	Initial model.Model
}

// RoundRecord is what one round did.
type RoundRecord struct {
	Round         int
	TestAccuracy  float64
	TestLoss      float64
	TrainLoss     float64 // mean of the clients' training loss, weighted by examples
	Clients       int
	UplinkBytes   int // encoded updates of the round
	DownlinkBytes int // encoded global model, once a selected client
	Seconds       float64
}

// Report is a whole run.
type Report struct {
	Rounds      []RoundRecord
	RoundsToHit int // first round reaching StopAt, 0 when never
	Model       model.Model
}

// Run trains for cfg.Rounds rounds (or until StopAt), calling onRound (may
// be nil) after each.
func Run(ctx context.Context, cfg Config, onRound func(RoundRecord)) (Report, error) {
	if len(cfg.Clients) == 0 || cfg.Rounds < 1 {
		return Report{}, fmt.Errorf("simulate: %d clients, %d rounds: want at least 1 of each", len(cfg.Clients), cfg.Rounds)
	}
	if err := cfg.Train.Validate(); err != nil {
		return Report{}, fmt.Errorf("simulate: %w", err)
	}
	global, err := initialModel(cfg)
	if err != nil {
		return Report{}, fmt.Errorf("simulate: %w", err)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tr := &memoryTransport{cfg: &cfg, updates: make(chan *model.Update, len(cfg.Clients)), errs: make(chan error, len(cfg.Clients)), index: map[string]int{}}
	names := make([]string, len(cfg.Clients))
	for i := range names {
		names[i] = fmt.Sprintf("client%03d", i)
		tr.index[names[i]] = i
	}
	tr.trainers = make(chan *train.Trainer, workers)
	for range workers {
		t, err := train.NewTrainer(global.Layout)
		if err != nil {
			return Report{}, err
		}
		tr.trainers <- t
	}
	coord := aggregate.Coordinator{
		Sampling:  cfg.Sampling,
		Policy:    aggregate.RoundPolicy{Timeout: time.Hour}, // no stragglers in a simulation
		Aggregate: cfg.Aggregate,
	}
	evaluators := make([]*train.Trainer, workers)
	for i := range evaluators {
		evaluators[i], _ = train.NewTrainer(global.Layout)
	}
	var rep Report
	for round := 1; round <= cfg.Rounds; round++ {
		start := time.Now()
		tr.reset()
		res, stats, err := coord.RunRound(ctx, tr, uint64(round), names, global)
		if err != nil {
			return rep, err
		}
		global = res.Model
		met, err := evaluate(ctx, evaluators, global, cfg.Test)
		if err != nil {
			return rep, err
		}
		rec := RoundRecord{
			Round: round, TestAccuracy: met.Accuracy, TestLoss: met.Loss, TrainLoss: tr.trainLoss(),
			Clients: stats.Accepted, UplinkBytes: tr.up, DownlinkBytes: tr.down, Seconds: time.Since(start).Seconds(),
		}
		rep.Rounds = append(rep.Rounds, rec)
		if onRound != nil {
			onRound(rec)
		}
		if cfg.StopAt > 0 && met.Accuracy >= cfg.StopAt {
			rep.RoundsToHit = round
			break
		}
	}
	rep.Model = global
	return rep, nil
}

// initialModel is cfg.Initial (copied, checked against Widths) or a new MLP.
func initialModel(cfg Config) (model.Model, error) {
	if len(cfg.Initial.Params) == 0 {
		return model.NewMLP(cfg.Seed, cfg.Widths...)
	}
	if err := cfg.Initial.Check(); err != nil {
		return model.Model{}, fmt.Errorf("initial model: %w", err)
	}
	if want := model.MLPLayout(cfg.Widths...); !cfg.Initial.Layout.Equal(want) {
		return model.Model{}, fmt.Errorf("initial model: layout %v, widths %v need %v: %w", cfg.Initial.Layout, cfg.Widths, want, model.ErrLayout)
	}
	return cfg.Initial.Clone(), nil
}

// evaluate splits the test set over the trainers.
func evaluate(ctx context.Context, ts []*train.Trainer, m model.Model, test train.Dataset) (train.Metrics, error) {
	n := test.Len()
	parts := make([]train.Metrics, len(ts))
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	step := (n + len(ts) - 1) / len(ts)
	for i, t := range ts {
		lo, hi := min(i*step, n), min((i+1)*step, n)
		if lo == hi {
			continue
		}
		part := train.Dataset{Dim: test.Dim, Classes: test.Classes, Features: test.Features[lo*test.Dim : hi*test.Dim], Labels: test.Labels[lo:hi]}
		wg.Go(func() { parts[i], errs[i] = t.Evaluate(ctx, m, part) })
	}
	wg.Wait()
	var out train.Metrics
	for i, p := range parts {
		if errs[i] != nil {
			return out, errs[i]
		}
		out.Loss += p.Loss * float64(p.Examples)
		out.Accuracy += p.Accuracy * float64(p.Examples)
		out.Examples += p.Examples
	}
	out.Loss /= float64(out.Examples)
	out.Accuracy /= float64(out.Examples)
	return out, nil
}

// memoryTransport "sends" the global model by encoding it and training the
// selected clients on goroutines; each client's update is encoded with the
// uplink options and decoded again before it reaches the round.
type memoryTransport struct {
	cfg      *Config
	index    map[string]int
	trainers chan *train.Trainer
	updates  chan *model.Update
	errs     chan error

	mu       sync.Mutex
	up, down int
	lossSum  float64
	examples float64
}

func (t *memoryTransport) reset() {
	t.up, t.down, t.lossSum, t.examples = 0, 0, 0, 0
}

func (t *memoryTransport) trainLoss() float64 {
	if t.examples == 0 {
		return 0
	}
	return t.lossSum / t.examples
}

func (t *memoryTransport) Broadcast(ctx context.Context, round uint64, selected []string, global model.Model) error {
	wire, err := model.AppendUpdate(nil, &model.Update{Round: round, Kind: model.KindWeights, Layout: global.Layout, Params: global.Params}, t.cfg.Downlink)
	if err != nil {
		return err
	}
	t.down = len(wire) * len(selected)
	received, err := model.DecodeUpdate(wire)
	if err != nil {
		return err
	}
	start := model.Model{Layout: received.Layout, Params: received.Params}
	for _, node := range selected {
		go t.client(ctx, round, node, start)
	}
	return nil
}

func (t *memoryTransport) client(ctx context.Context, round uint64, node string, global model.Model) {
	tr := <-t.trainers
	defer func() { t.trainers <- tr }()
	cfg := t.cfg.Train
	i := t.index[node]
	cfg.Seed = t.cfg.Seed ^ round<<20 ^ uint64(i)
	u, err := tr.LocalUpdate(ctx, round, node, global, t.cfg.Clients[i], cfg)
	var wire []byte
	if err == nil {
		opts := t.cfg.Uplink
		opts.Seed ^= cfg.Seed
		wire, err = model.AppendUpdate(nil, u, opts)
	}
	if err == nil {
		u, err = model.DecodeUpdate(wire)
	}
	if err != nil {
		t.errs <- fmt.Errorf("simulate: %s: %w", node, err)
		return
	}
	t.mu.Lock()
	t.up += len(wire)
	if l, ok := u.Metric("train_loss"); ok {
		t.lossSum += l * float64(u.Examples)
		t.examples += float64(u.Examples)
	}
	t.mu.Unlock()
	t.updates <- u
}

func (t *memoryTransport) Receive(ctx context.Context) (*model.Update, error) {
	select {
	case u := <-t.updates:
		return u, nil
	case err := <-t.errs:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
