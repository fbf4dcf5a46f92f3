package anomaly

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/fl/simulate"
	"github.com/edgeflow/edgeflow/internal/fl/train"
)

// Config is the whole experiment.
type Config struct {
	Window        WindowConfig
	TrainFraction float64 // of each node's readings, in time order; the rest is its test part
	Injection     Injection
	Hidden        []int // hidden layer widths of the MLP (none: logistic regression)
	// Train is local training; Train.Epochs is the epochs of one federated
	// round. Local and centralised training run Rounds·Train.Epochs epochs:
	// every setting passes over each training example as often.
	Train  train.Config
	Rounds int
	// FalseAlarmBudget sets each node's alarm threshold from its own
	// training part: the smallest score above which at most this fraction
	// of the part's windows labelled normal score, and never below ½.
	FalseAlarmBudget float64
	Uplink           model.EncodeOptions // the federated updates' wire encoding
	// QuantizedUplink, when set, runs the federated setting a second time
	// (FederatedQuantized) with updates encoded so.
	QuantizedUplink *model.EncodeOptions
	// TuneEpochs, when positive, adds FederatedTuned: each node trains the
	// final federated model this many more epochs on its own data alone.
	TuneEpochs int
	Seeds      []uint64 // one run of every setting a seed
	Workers    int      // nodes trained at once (federated); 0: GOMAXPROCS
}

// DefaultConfig is the experiment of make bench-fl-anomaly.
func DefaultConfig() Config {
	return Config{
		Window: DefaultWindowConfig(), TrainFraction: 0.5, Injection: DefaultInjection(),
		Hidden: []int{16}, Train: train.Config{LearningRate: 0.05, BatchSize: 32, Epochs: 1},
		Rounds: 20, FalseAlarmBudget: 0.005, Seeds: []uint64{1, 2, 3, 4, 5}, TuneEpochs: 1,
	}
}

// Validate names the first field out of range.
func (c Config) Validate() error {
	if err := c.Window.Validate(); err != nil {
		return err
	}
	if err := c.Injection.Validate(); err != nil {
		return err
	}
	if err := c.Train.Validate(); err != nil {
		return err
	}
	switch {
	case !(c.TrainFraction > 0 && c.TrainFraction < 1):
		return fmt.Errorf("experiment: train_fraction %v, want in (0,1)", c.TrainFraction)
	case c.Rounds < 1:
		return fmt.Errorf("experiment: rounds %d, want ≥ 1", c.Rounds)
	case !(c.FalseAlarmBudget >= 0 && c.FalseAlarmBudget < 1):
		return fmt.Errorf("experiment: false_alarm_budget %v, want in [0,1)", c.FalseAlarmBudget)
	case c.TuneEpochs < 0:
		return fmt.Errorf("experiment: tune_epochs %d, want ≥ 0", c.TuneEpochs)
	case len(c.Seeds) == 0:
		return fmt.Errorf("experiment: no seeds")
	}
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("experiment: hidden[%d] = %d, want ≥ 1", i, h)
		}
	}
	return nil
}

// NodeData is one node's windows, split in time.
type NodeData struct {
	ID     string
	Indoor bool
	Train  []Window
	Test   []Window
}

// Prepare windows and splits every node.
func Prepare(nodes []Node, cfg Config) ([]NodeData, error) {
	out := make([]NodeData, 0, len(nodes))
	for _, n := range nodes {
		ws, err := NodeWindows(n, cfg.Window)
		if err != nil {
			return nil, err
		}
		tr, te, err := SplitByTime(ws, cfg.TrainFraction)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.ID, err)
		}
		if len(tr) == 0 || len(te) == 0 {
			return nil, fmt.Errorf("node %s: %d readings give %d training and %d test windows: want some of each", n.ID, len(n.Readings), len(tr), len(te))
		}
		out = append(out, NodeData{ID: n.ID, Indoor: n.Indoor, Train: tr, Test: te})
	}
	return out, nil
}

// Dataset turns windows into model inputs; class 1 is anomalous.
func Dataset(windows []Window, cfg WindowConfig) train.Dataset {
	d := train.Dataset{Classes: 2}
	for _, w := range windows {
		d.Dim = cfg.Dim(w.Channels)
		d.Features = w.AppendFeatures(d.Features, cfg)
		d.Labels = append(d.Labels, b2u(w.Anomalous))
	}
	return d
}

// TrainingSet is a node's training windows with their labels plus
// in.PerWindow synthetic anomalies made from each.
func TrainingSet(windows []Window, cfg WindowConfig, in Injection, rng *rand.Rand) train.Dataset {
	all := slices.Clone(windows)
	for _, w := range windows {
		for range in.PerWindow {
			all = append(all, in.Apply(w, rng))
		}
	}
	return Dataset(all, cfg)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Scores returns the model's probability of "anomalous" for every example.
func Scores(t *train.Trainer, m model.Model, d train.Dataset) ([]float32, error) {
	p, err := t.Predict(m, d.Features)
	if err != nil {
		return nil, err
	}
	s := make([]float32, d.Len())
	for i := range s {
		s[i] = p[2*i+1]
	}
	return s, nil
}

// RuleScores is the reference detector's score of every window: the
// largest |z-score| of its newest reading over the channels.
func RuleScores(windows []Window, cfg WindowConfig) []float32 {
	out := make([]float32, len(windows))
	for i, w := range windows {
		last := len(w.Values)/w.Channels - 1
		for c := range w.Channels {
			z := math.Abs(w.Value(last, c)-w.Stats.Mean[c]) / w.Stats.Std[c]
			out[i] = max(out[i], float32(z))
		}
	}
	return out
}

// Threshold is the alarm threshold for scores of windows labelled normal
// (labels[i] == 0): the smallest value of at least floor that at most
// budget·(normal windows) of them exceed (floor ½ for a model's
// probability: it never flags what it finds more likely normal).
func Threshold(scores []float32, labels []uint8, budget float64, floor float32) float32 {
	var normal []float32
	for i, s := range scores {
		if labels[i] == 0 {
			normal = append(normal, s)
		}
	}
	if len(normal) == 0 {
		return floor
	}
	slices.Sort(normal)
	allowed := int(math.Floor(budget * float64(len(normal))))
	return max(floor, normal[len(normal)-1-min(allowed, len(normal)-1)])
}

// Confuse counts the decisions score > threshold against the labels.
func Confuse(scores []float32, labels []uint8, threshold float32) Confusion {
	var c Confusion
	for i, s := range scores {
		c.Add(s > threshold, labels[i] == 1)
	}
	return c
}

// Setting names.
const (
	// Rule is the reference without learning: a window's score is the
	// largest |z-score| of its newest reading over the channels.
	Rule               = "z-score rule"
	Local              = "local"
	Federated          = "federated"
	FederatedQuantized = "federated, quantised updates"
	FederatedTuned     = "federated, then tuned locally"
	Centralised        = "centralised"
)

// Outcome is one setting's models scored on every node's test part. With
// Local, node i's own model; Cross[i][j] is node i's model on node j's test
// part (each node sets its threshold from its own training part). Federated
// and centralised train one model: Cross is nil.
type Outcome struct {
	Setting string
	Seed    uint64
	Nodes   []Confusion // on each node's own test part
	// FalseAlarms holds, for each node's own test part, the reading index
	// (Window.End) of every window flagged but labelled normal.
	FalseAlarms [][]int
	Cross       [][]Confusion
	Seconds     float64
	// Federated only: bytes of every round's encoded updates (uplink) and
	// global model (downlink, once a node).
	UplinkBytesPerRound, DownlinkBytesPerRound float64
}

// Overall pools the nodes' confusions.
func (o Outcome) Overall() Confusion {
	var c Confusion
	for _, n := range o.Nodes {
		c = c.Plus(n)
	}
	return c
}

// Report is the experiment's result.
type Report struct {
	Config Config
	Nodes  []NodeSummary
	// Outcomes: the rule, then seed by seed local, federated, with
	// QuantizedUplink federated again, with TuneEpochs FederatedTuned, and
	// centralised.
	Outcomes []Outcome
	Params   int // model parameters
}

// NodeSummary describes a node's parts.
type NodeSummary struct {
	ID                            string
	Indoor                        bool
	TrainWindows, TestWindows     int
	TrainAnomalies, TestAnomalies int
	// FirstAnomaly and LastAnomaly are the reading indices (Window.End) of
	// the first and last anomalous test window; −1 without any.
	FirstAnomaly, LastAnomaly int
}

// Run trains and scores every setting for every seed.
func Run(ctx context.Context, nodes []NodeData, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if len(nodes) == 0 {
		return Report{}, fmt.Errorf("experiment: no nodes")
	}
	rep := Report{Config: cfg}
	tests := make([]train.Dataset, len(nodes))
	trainsReal := make([]train.Dataset, len(nodes)) // real windows only: thresholds
	for i, n := range nodes {
		tests[i] = Dataset(n.Test, cfg.Window)
		trainsReal[i] = Dataset(n.Train, cfg.Window)
		s := NodeSummary{ID: n.ID, Indoor: n.Indoor, TrainWindows: len(n.Train), TestWindows: len(n.Test), FirstAnomaly: -1, LastAnomaly: -1}
		for _, l := range trainsReal[i].Labels {
			s.TrainAnomalies += int(l)
		}
		for k, l := range tests[i].Labels {
			if l == 1 {
				if s.TestAnomalies == 0 {
					s.FirstAnomaly = n.Test[k].End
				}
				s.LastAnomaly = n.Test[k].End
				s.TestAnomalies++
			}
		}
		rep.Nodes = append(rep.Nodes, s)
	}
	dim := tests[0].Dim
	widths := append(append([]int{dim}, cfg.Hidden...), 2)
	rep.Params = model.MLPLayout(widths...).NumParams()
	tr, err := train.NewTrainer(model.MLPLayout(widths...))
	if err != nil {
		return Report{}, err
	}
	// score runs m on node j's training part (threshold) and test part.
	// judge scores node j's test part against threshold th.
	judge := func(j int, s []float32, th float32) (Confusion, []int) {
		var fa []int
		for k, v := range s {
			if v > th && tests[j].Labels[k] == 0 {
				fa = append(fa, nodes[j].Test[k].End)
			}
		}
		return Confuse(s, tests[j].Labels, th), fa
	}
	// score runs m on node j's training part (threshold) and test part.
	score := func(m model.Model, j int) (Confusion, []int, error) {
		s, err := Scores(tr, m, trainsReal[j])
		if err != nil {
			return Confusion{}, nil, err
		}
		th := Threshold(s, trainsReal[j].Labels, cfg.FalseAlarmBudget, 0.5)
		if s, err = Scores(tr, m, tests[j]); err != nil {
			return Confusion{}, nil, err
		}
		c, fa := judge(j, s, th)
		return c, fa, nil
	}
	scoreAll := func(m model.Model) ([]Confusion, [][]int, error) {
		out, fas := make([]Confusion, len(nodes)), make([][]int, len(nodes))
		for j := range nodes {
			if out[j], fas[j], err = score(m, j); err != nil {
				return nil, nil, err
			}
		}
		return out, fas, nil
	}
	rule := Outcome{Setting: Rule}
	for j, n := range nodes {
		th := Threshold(RuleScores(n.Train, cfg.Window), trainsReal[j].Labels, cfg.FalseAlarmBudget, 0)
		c, fa := judge(j, RuleScores(n.Test, cfg.Window), th)
		rule.Nodes, rule.FalseAlarms = append(rule.Nodes, c), append(rule.FalseAlarms, fa)
	}
	rep.Outcomes = append(rep.Outcomes, rule)
	long := cfg.Train
	long.Epochs = cfg.Rounds * cfg.Train.Epochs
	federated := func(setting string, seed uint64, sets []train.Dataset, init model.Model, uplink model.EncodeOptions) (Outcome, model.Model, error) {
		start := time.Now()
		sim, err := simulate.Run(ctx, simulate.Config{
			Clients: sets, Test: tests[0], Widths: widths, Train: cfg.Train,
			Sampling:  aggregate.Sampling{Fraction: 1, Seed: seed},
			Aggregate: aggregate.Config{Rule: aggregate.FedAvg{}},
			Uplink:    uplink, Rounds: cfg.Rounds, Workers: cfg.Workers, Seed: seed, Initial: init,
		}, nil)
		if err != nil {
			return Outcome{}, model.Model{}, fmt.Errorf("%s: %w", setting, err)
		}
		o := Outcome{Setting: setting, Seed: seed}
		for _, r := range sim.Rounds {
			o.UplinkBytesPerRound += float64(r.UplinkBytes) / float64(len(sim.Rounds))
			o.DownlinkBytesPerRound += float64(r.DownlinkBytes) / float64(len(sim.Rounds))
		}
		if o.Nodes, o.FalseAlarms, err = scoreAll(sim.Model); err != nil {
			return Outcome{}, model.Model{}, err
		}
		o.Seconds = time.Since(start).Seconds()
		return o, sim.Model, nil
	}
	for _, seed := range cfg.Seeds {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rng := rand.New(rand.NewPCG(seed, 0xa70))
		sets := make([]train.Dataset, len(nodes))
		for i, n := range nodes {
			sets[i] = TrainingSet(n.Train, cfg.Window, cfg.Injection, rng)
		}
		init, err := model.NewMLP(seed, widths...)
		if err != nil {
			return rep, err
		}
		long.Seed = seed

		// Local: every node alone.
		start := time.Now()
		loc := Outcome{Setting: Local, Seed: seed}
		for i := range nodes {
			res, err := tr.Train(ctx, init, sets[i], long)
			if err != nil {
				return rep, fmt.Errorf("local %s: %w", nodes[i].ID, err)
			}
			row, fas, err := scoreAll(model.Model{Layout: init.Layout, Params: res.Params})
			if err != nil {
				return rep, err
			}
			loc.Cross = append(loc.Cross, row)
			loc.Nodes, loc.FalseAlarms = append(loc.Nodes, row[i]), append(loc.FalseAlarms, fas[i])
		}
		loc.Seconds = time.Since(start).Seconds()

		// Federated: FedAvg over every node each round, the real wire format.
		fed, global, err := federated(Federated, seed, sets, init, cfg.Uplink)
		if err != nil {
			return rep, err
		}
		var tuned *Outcome
		if cfg.TuneEpochs > 0 {
			start := time.Now()
			o := Outcome{Setting: FederatedTuned, Seed: seed}
			tc := cfg.Train
			tc.Epochs, tc.Seed = cfg.TuneEpochs, seed
			for i := range nodes {
				res, err := tr.Train(ctx, global, sets[i], tc)
				if err != nil {
					return rep, fmt.Errorf("%s %s: %w", FederatedTuned, nodes[i].ID, err)
				}
				c, fa, err := score(model.Model{Layout: global.Layout, Params: res.Params}, i)
				if err != nil {
					return rep, err
				}
				o.Nodes, o.FalseAlarms = append(o.Nodes, c), append(o.FalseAlarms, fa)
			}
			o.Seconds = fed.Seconds + time.Since(start).Seconds()
			tuned = &o
		}
		var fedQ *Outcome
		if cfg.QuantizedUplink != nil {
			o, _, err := federated(FederatedQuantized, seed, sets, init, *cfg.QuantizedUplink)
			if err != nil {
				return rep, err
			}
			fedQ = &o
		}

		// Centralised: the pooled training sets.
		start = time.Now()
		pooled := train.Dataset{Dim: dim, Classes: 2}
		for _, s := range sets {
			pooled.Features = append(pooled.Features, s.Features...)
			pooled.Labels = append(pooled.Labels, s.Labels...)
		}
		res, err := tr.Train(ctx, init, pooled, long)
		if err != nil {
			return rep, fmt.Errorf("centralised: %w", err)
		}
		cen := Outcome{Setting: Centralised, Seed: seed}
		if cen.Nodes, cen.FalseAlarms, err = scoreAll(model.Model{Layout: init.Layout, Params: res.Params}); err != nil {
			return rep, err
		}
		cen.Seconds = time.Since(start).Seconds()
		rep.Outcomes = append(rep.Outcomes, loc, fed)
		if fedQ != nil {
			rep.Outcomes = append(rep.Outcomes, *fedQ)
		}
		if tuned != nil {
			rep.Outcomes = append(rep.Outcomes, *tuned)
		}
		rep.Outcomes = append(rep.Outcomes, cen)
	}
	return rep, nil
}
