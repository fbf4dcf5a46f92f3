package aggregate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/edgeflow/edgeflow/internal/fl/model"
)

// Privacy is central differential privacy in the manner of DP-FedAvg
// (McMahan et al. 2018): every delta is clipped to L2 norm ClipNorm, the
// clipped deltas are averaged with equal weights 1/n, and Gaussian noise of
// standard deviation NoiseMultiplier·ClipNorm/n is added to each coordinate
// of the mean. The privacy cost (ε, δ) follows from NoiseMultiplier, the
// sampling fraction and the number of rounds with a moments accountant;
// edgeflow reports the multiplier, not ε.
type Privacy struct {
	ClipNorm        float64 // S > 0
	NoiseMultiplier float64 // z ≥ 0
	Seed            uint64  // the noise generator, with the round: repeatable
}

// Config chooses how Aggregate combines a round.
type Config struct {
	Rule    Rule     // nil: FedAvg
	Privacy *Privacy // nil: none
	// ServerLearningRate scales the combined delta before it is added to the
	// global model; 0 means 1 (plain FedAvg).
	ServerLearningRate float64
}

// Rejection says why an update was left out.
type Rejection struct {
	Node   string
	Reason string
}

// Result is the outcome of one aggregation.
type Result struct {
	Model       model.Model // the next global model
	Used        []string    // nodes whose updates were combined, sorted
	Examples    uint64      // examples behind the used updates
	Rejected    []Rejection
	Clipped     int     // deltas scaled down to ClipNorm
	NoiseStddev float64 // per coordinate, 0 without Privacy
	Rule        string
}

// Aggregate combines the updates of round into the next global model. It is
// a pure function: neither global nor the updates are modified, and with the
// same set of updates (in any order) and Privacy.Seed the result is the same
// bit for bit. Updates of another
// round, of another layout, with values that are not finite, or repeating a
// node are rejected and listed; weights updates are turned into deltas from
// global. With no usable update the error wraps ErrNoUpdates.
func Aggregate(ctx context.Context, round uint64, global model.Model, updates []*model.Update, cfg Config) (Result, error) {
	if err := global.Check(); err != nil {
		return Result{}, fmt.Errorf("aggregate round %d: global model: %w", round, err)
	}
	rule := cfg.Rule
	if rule == nil {
		rule = FedAvg{}
	}
	res := Result{Rule: rule.Name()}
	var deltas [][]float32
	var examples []uint64
	seen := map[string]bool{}
	for i, u := range updates {
		reason := ""
		switch {
		case u == nil:
			reason = fmt.Sprintf("updates[%d] is nil", i)
		case u.Round != round:
			reason = fmt.Sprintf("round %d, aggregating %d", u.Round, round)
		case seen[u.Node]:
			reason = "a second update from this node"
		case !u.Layout.Equal(global.Layout) || len(u.Params) != len(global.Params):
			reason = "layout differs from the global model's"
		case u.Kind != model.KindDelta && u.Kind != model.KindWeights:
			reason = fmt.Sprintf("kind %v", u.Kind)
		default:
			if j := firstNonFinite(u.Params); j >= 0 {
				reason = fmt.Sprintf("params[%d] is %v", j, u.Params[j])
			}
		}
		if reason != "" {
			node := ""
			if u != nil {
				node = u.Node
			}
			res.Rejected = append(res.Rejected, Rejection{Node: node, Reason: reason})
			continue
		}
		seen[u.Node] = true
		d := u.Params
		if u.Kind == model.KindWeights {
			d = make([]float32, len(d))
			for j, w := range u.Params {
				d[j] = w - global.Params[j]
			}
		}
		deltas = append(deltas, d)
		examples = append(examples, u.Examples)
		res.Used = append(res.Used, u.Node)
		res.Examples += u.Examples
	}
	if len(deltas) == 0 {
		return res, fmt.Errorf("aggregate round %d: %d updates, none usable: %w", round, len(updates), ErrNoUpdates)
	}
	// Combine in node order: float sums then do not depend on arrival order.
	order := make([]int, len(deltas))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(res.Used[a], res.Used[b]) })
	sortedDeltas, sortedExamples, sortedUsed := make([][]float32, len(order)), make([]uint64, len(order)), make([]string, len(order))
	for i, j := range order {
		sortedDeltas[i], sortedExamples[i], sortedUsed[i] = deltas[j], examples[j], res.Used[j]
	}
	deltas, examples, res.Used = sortedDeltas, sortedExamples, sortedUsed

	var weights []float64
	if p := cfg.Privacy; p != nil {
		if !(p.ClipNorm > 0) || !(p.NoiseMultiplier >= 0) || math.IsInf(p.ClipNorm, 0) || math.IsInf(p.NoiseMultiplier, 0) {
			return res, fmt.Errorf("aggregate round %d: privacy: clip_norm %v and noise_multiplier %v, want > 0 and ≥ 0", round, p.ClipNorm, p.NoiseMultiplier)
		}
		deltas, res.Clipped = clip(deltas, p.ClipNorm)
		weights = make([]float64, len(deltas))
		for i := range weights {
			weights[i] = 1 / float64(len(deltas))
		}
	} else {
		var err error
		if weights, err = Weights(examples); err != nil {
			return res, fmt.Errorf("aggregate round %d: %w", round, err)
		}
	}

	combined := make([]float32, len(global.Params))
	if err := rule.Combine(ctx, deltas, weights, combined); err != nil {
		return res, fmt.Errorf("aggregate round %d: %s: %w", round, rule.Name(), err)
	}
	if p := cfg.Privacy; p != nil && p.NoiseMultiplier > 0 {
		res.NoiseStddev = p.NoiseMultiplier * p.ClipNorm / float64(len(deltas))
		rng := rand.New(rand.NewPCG(p.Seed, round))
		for i := range combined {
			combined[i] += float32(rng.NormFloat64() * res.NoiseStddev)
		}
	}
	lr := cfg.ServerLearningRate
	if lr == 0 {
		lr = 1
	}
	res.Model = model.Model{Layout: global.Layout, Params: slices.Clone(global.Params)}
	blas32.Saxpy(len(combined), float32(lr), combined, 1, res.Model.Params, 1)
	return res, nil
}

func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

// clip returns the deltas scaled to L2 norm ≤ s (copies only of those
// scaled) and how many were scaled.
func clip(deltas [][]float32, s float64) ([][]float32, int) {
	out := make([][]float32, len(deltas))
	n := 0
	for i, d := range deltas {
		var sq float64
		for _, v := range d {
			sq += float64(v) * float64(v)
		}
		norm := math.Sqrt(sq)
		if norm <= s {
			out[i] = d
			continue
		}
		n++
		f := float32(s / norm)
		c := make([]float32, len(d))
		for j, v := range d {
			c[j] = v * f
		}
		out[i] = c
	}
	return out, n
}
