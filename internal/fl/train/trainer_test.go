package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/tflite"
)

// blobs is a separable synthetic problem: class c's examples scatter around
// a random centre.
func blobs(seed uint64, n, dim, classes int) Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float32, classes*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64() * 2)
	}
	d := Dataset{Dim: dim, Classes: classes}
	for i := range n {
		c := i % classes
		for j := range dim {
			d.Features = append(d.Features, centres[c*dim+j]+float32(rng.NormFloat64()*0.5))
		}
		d.Labels = append(d.Labels, uint8(c))
	}
	return d
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	m, err := model.NewMLP(3, 5, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params { // non-zero biases too
		m.Params[i] += 0.05 * float32(i%7-3)
	}
	data := blobs(1, 4, 5, 3)
	tr, err := NewTrainer(m.Layout)
	if err != nil {
		t.Fatal(err)
	}
	const lr = 1e-3
	res, err := tr.Train(context.Background(), m, data, Config{LearningRate: lr, BatchSize: 4, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	loss := func(p []float32) float64 {
		met, err := tr.Evaluate(context.Background(), model.Model{Layout: m.Layout, Params: p}, data)
		if err != nil {
			t.Fatal(err)
		}
		return met.Loss
	}
	const eps = 1e-2
	for i := range m.Params {
		p := append([]float32(nil), m.Params...)
		p[i] += eps
		up := loss(p)
		p[i] -= 2 * eps
		down := loss(p)
		numeric := (up - down) / (2 * eps)
		analytic := float64(m.Params[i]-res.Params[i]) / lr
		if math.Abs(numeric-analytic) > 2e-3+0.02*math.Abs(numeric) {
			t.Errorf("param %d: analytic gradient %.5f, finite differences %.5f", i, analytic, numeric)
		}
	}
}

func TestTrainingLearnsAndProxPullsTowardGlobal(t *testing.T) {
	data := blobs(2, 400, 8, 4)
	global, err := model.NewMLP(5, 8, 16, 4)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(global.Layout)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, err := tr.Evaluate(ctx, global, data)
	if err != nil {
		t.Fatal(err)
	}
	distance := func(mu float32) (float64, Metrics) {
		u, err := tr.LocalUpdate(ctx, 1, "n1", global, data, Config{LearningRate: 0.05, BatchSize: 10, Epochs: 2, ProximalMu: mu, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		if u.Examples != 400 || u.Kind != model.KindDelta || u.Round != 1 || u.Node != "n1" {
			t.Fatalf("update header %+v", u)
		}
		local := global.Clone()
		var d float64
		for i, v := range u.Params {
			local.Params[i] += v
			d += float64(v) * float64(v)
		}
		after, err := tr.Evaluate(ctx, local, data)
		if err != nil {
			t.Fatal(err)
		}
		return math.Sqrt(d), after
	}
	dFedAvg, after := distance(0)
	if after.Accuracy < 0.95 || after.Loss > before.Loss/4 {
		t.Errorf("after training: %+v, before %+v", after, before)
	}
	dProx, _ := distance(1)
	if dProx >= dFedAvg {
		t.Errorf("‖Δ‖ with μ=1 is %.4f, not below μ=0's %.4f", dProx, dFedAvg)
	}
}

func TestConfigAndDataErrors(t *testing.T) {
	global, _ := model.NewMLP(1, 4, 3, 2)
	tr, _ := NewTrainer(global.Layout)
	good := Config{LearningRate: 0.1, BatchSize: 2, Epochs: 1}
	data := blobs(1, 6, 4, 2)
	for _, tc := range []struct {
		name string
		cfg  Config
		data Dataset
		want string
	}{
		{"learning rate", Config{BatchSize: 2, Epochs: 1}, data, "learning_rate"},
		{"batch", Config{LearningRate: 0.1, Epochs: 1}, data, "batch_size"},
		{"epochs", Config{LearningRate: 0.1, BatchSize: 1}, data, "epochs"},
		{"mu", Config{LearningRate: 0.1, BatchSize: 1, Epochs: 1, ProximalMu: -1}, data, "proximal_mu"},
		{"dim", good, blobs(1, 6, 5, 2), "dim 5"},
		{"label", good, Dataset{Dim: 4, Classes: 2, Features: make([]float32, 4), Labels: []uint8{7}}, "labels[0]"},
		{"empty", good, Dataset{Dim: 4, Classes: 2}, "no examples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.Train(context.Background(), global, tc.data, tc.cfg)
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Train(ctx, global, data, good); err == nil {
		t.Error("cancelled context: no error")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestExportedTFLiteMatchesForward: the .tflite file of an MLP, run by
// edgeflow's TFLite interpreter, gives the probabilities of the Go forward
// pass within 1e-5 relative.
func TestExportedTFLiteMatchesForward(t *testing.T) {
	for _, widths := range [][]int{{6, 3}, {20, 16, 8, 5}, {784, 200, 200, 10}} {
		m, err := model.NewMLP(11, widths...)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(4, 4))
		for i := range m.Params {
			m.Params[i] *= 3 // sharper probabilities than at initialisation
			if m.Layout.Index(model.DenseBias(0)) >= 0 && i%13 == 0 {
				m.Params[i] += float32(rng.NormFloat64() * 0.1)
			}
		}
		const batch = 4
		file, err := model.ExportTFLite(m, batch)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := tflite.Load(file)
		if err != nil {
			t.Fatalf("%v: load: %v", widths, err)
		}
		ip, err := tflite.NewInterpreter(loaded, tflite.WithThreads(1))
		if err != nil {
			t.Fatalf("%v: interpreter: %v", widths, err)
		}
		x := make([]float32, batch*widths[0])
		for i := range x {
			x[i] = float32(rng.Float64())
		}
		copy(ip.Input(0).Float32s(), x)
		if err := ip.Invoke(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := ip.Output(0).Float32s()
		ip.Close()
		tr, err := NewTrainer(m.Layout)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tr.Predict(m, x)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: tflite gives %d values, Go %d", widths, len(got), len(want))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*math.Abs(float64(want[i]))+1e-7 {
				t.Errorf("%v: output %d: tflite %g, Go %g", widths, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkLocalEpoch: one client of McMahan et al.'s MNIST setting — the
// 2NN, 600 examples, E=1, B=10 — on random inputs, four fifths of them zero
// as MNIST's pixels.
func BenchmarkLocalEpoch(b *testing.B) {
	global, _ := model.NewMLP(1, 784, 200, 200, 10)
	data := blobs(3, 600, 784, 10)
	for i := range data.Features {
		if i%5 != 0 {
			data.Features[i] = 0
		}
	}
	tr, _ := NewTrainer(global.Layout)
	cfg := Config{LearningRate: 0.05, BatchSize: 10, Epochs: 1}
	for b.Loop() {
		if _, err := tr.Train(context.Background(), global, data, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
