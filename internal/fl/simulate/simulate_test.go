package simulate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/mnist"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/fl/train"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

// TestFedAvgMNISTShort is the short version of make bench-fedavg: 20
// clients of 100 MNIST examples (IID), C=0.25, E=1, B=10, 5 rounds, on a
// smaller MLP; int8 + zstd updates. Accuracy must climb well above chance (0.1)
// and the uplink must be at least 4× smaller than float32 would be.
func TestFedAvgMNISTShort(t *testing.T) {
	dir := testenv.GoModuleDir(t, mnist.Module)
	trainSet, testSet, err := mnist.LoadFirst(filepath.Join(dir, "data"), 2000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, 2000)
	for i := range idx {
		idx[i] = i
	}
	clients, err := mnist.SplitIID(trainSet.Subset(idx), 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	test := testSet.Subset(idx[:1000])
	var records []RoundRecord
	rep, err := Run(context.Background(), Config{
		Clients: clients, Test: test, Widths: []int{784, 64, 10},
		Train:    train.Config{LearningRate: 0.1, BatchSize: 10, Epochs: 1},
		Sampling: aggregate.Sampling{Fraction: 0.25, Seed: 1},
		Uplink:   model.EncodeOptions{Quantization: model.Int8, Compress: true},
		Rounds:   5, Seed: 1,
	}, func(r RoundRecord) { records = append(records, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 5 || len(rep.Rounds) != 5 {
		t.Fatalf("%d rounds recorded", len(records))
	}
	last := records[4]
	t.Logf("round 5: %+v", last)
	if last.TestAccuracy < 0.6 {
		t.Errorf("test accuracy after 5 rounds %.3f, want ≥ 0.6", last.TestAccuracy)
	}
	params := model.MLPLayout(784, 64, 10).NumParams()
	if last.Clients != 5 || last.UplinkBytes*4 > 5*4*params {
		t.Errorf("%d clients sent %d bytes; float32 would be %d", last.Clients, last.UplinkBytes, 5*4*params)
	}
	if last.DownlinkBytes < 5*4*params {
		t.Errorf("downlink %d bytes, below 5 float32 models", last.DownlinkBytes)
	}
}

// synthetic returns n examples of dim features in classes classes; the
// class is the index of the largest of the first classes features, so a
// model can learn it.
func synthetic(rng *rand.Rand, n, dim, classes int) train.Dataset {
	d := train.Dataset{Dim: dim, Classes: classes, Features: make([]float32, n*dim), Labels: make([]uint8, n)}
	for i := range n {
		row := d.Features[i*dim : (i+1)*dim]
		for j := range row {
			row[j] = float32(rng.Float64())
		}
		best := 0
		for c := range classes {
			if row[c] > row[best] {
				best = c
			}
		}
		d.Labels[i] = uint8(best)
	}
	return d
}

// TestRoundIsWeightedMeanOfLocalModels replays two rounds by hand and
// compares them with Run: each round trains only the sampled clients
// (⌈C·K⌉ of K), each for exactly E passes of ⌈n_k/B⌉ minibatch steps,
// independently from the same global model, and the next global model is
// Σ n_k/n · w_k over the sampled clients (n: their examples) — no update
// applied twice, no momentum, no server learning rate. Clients of unequal
// sizes make wrong weights visible.
func TestRoundIsWeightedMeanOfLocalModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{30, 50, 70, 20, 40, 60, 15, 80, 90, 100}
	clients := make([]train.Dataset, len(sizes))
	names := make([]string, len(sizes))
	for i, n := range sizes {
		clients[i] = synthetic(rng, n, 8, 3)
		names[i] = fmt.Sprintf("client%03d", i)
	}
	widths := []int{8, 16, 3}
	initial, err := model.NewMLP(99, widths...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range initial.Params {
		initial.Params[i] *= 1.5
	}
	cfg := Config{
		Clients: clients, Test: synthetic(rng, 50, 8, 3), Widths: widths,
		Train:    train.Config{LearningRate: 0.3, BatchSize: 10, Epochs: 2},
		Sampling: aggregate.Sampling{Fraction: 0.3, Seed: 5},
		Rounds:   2, Workers: 2, Seed: 7, Initial: initial,
	}
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}

	global := initial.Clone()
	tr, err := train.NewTrainer(global.Layout)
	if err != nil {
		t.Fatal(err)
	}
	for round := uint64(1); round <= 2; round++ {
		selected, err := aggregate.Sample(round, names, cfg.Sampling)
		if err != nil {
			t.Fatal(err)
		}
		if len(selected) != 3 || rep.Rounds[round-1].Clients != 3 {
			t.Fatalf("round %d: %d sampled, %d trained; want 3 of 10 (C=0.3)", round, len(selected), rep.Rounds[round-1].Clients)
		}
		next := make([]float64, len(global.Params))
		var total float64
		for _, node := range selected {
			total += float64(sizes[slices.Index(names, node)])
		}
		for _, node := range selected {
			i := slices.Index(names, node)
			c := cfg.Train
			c.Seed = cfg.Seed ^ round<<20 ^ uint64(i) // Run's per-client seed
			res, err := tr.Train(context.Background(), global, clients[i], c)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.Epochs * ((sizes[i] + c.BatchSize - 1) / c.BatchSize); res.Steps != want {
				t.Fatalf("round %d %s: %d SGD steps, want E·⌈n/B⌉ = %d", round, node, res.Steps, want)
			}
			for j, w := range res.Params {
				next[j] += float64(sizes[i]) / total * float64(w)
			}
		}
		for j := range global.Params {
			global.Params[j] = float32(next[j])
		}
	}
	for j, w := range global.Params {
		if d := math.Abs(float64(w - rep.Model.Params[j])); d > 1e-5*(1+math.Abs(float64(w))) {
			t.Fatalf("params[%d]: Run %v, replayed FedAvg %v", j, rep.Model.Params[j], w)
		}
	}
}

// TestRoundsToHitIsFirstRoundAtTarget: the count McMahan et al. report, the
// first round whose test accuracy reaches the target; Run stops there.
func TestRoundsToHitIsFirstRoundAtTarget(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	clients := make([]train.Dataset, 10)
	for i := range clients {
		clients[i] = synthetic(rng, 60, 6, 3)
	}
	rep, err := Run(context.Background(), Config{
		Clients: clients, Test: synthetic(rng, 300, 6, 3), Widths: []int{6, 16, 3},
		Train:    train.Config{LearningRate: 0.2, BatchSize: 10, Epochs: 1},
		Sampling: aggregate.Sampling{Fraction: 0.2, Seed: 1},
		Rounds:   200, StopAt: 0.8, Seed: 2,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.RoundsToHit == 0 || rep.RoundsToHit != len(rep.Rounds) {
		t.Fatalf("rounds to 0.8: %d after %d rounds", rep.RoundsToHit, len(rep.Rounds))
	}
	for _, r := range rep.Rounds[:len(rep.Rounds)-1] {
		if r.TestAccuracy >= 0.8 {
			t.Fatalf("round %d already had %.3f, reported %d", r.Round, r.TestAccuracy, rep.RoundsToHit)
		}
	}
	if a := rep.Rounds[len(rep.Rounds)-1].TestAccuracy; a < 0.8 {
		t.Fatalf("last round %.3f", a)
	}
}
