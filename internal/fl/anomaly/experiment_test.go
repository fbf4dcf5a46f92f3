package anomaly

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

func TestInjection(t *testing.T) {
	base := Window{End: 9, Channels: 2, Values: []float64{1, 10, 2, 20, 3, 30, 4, 40},
		Stats: Stats{Mean: []float64{2, 20}, Std: []float64{1, 5}, DeltaStd: []float64{1, 1}}}
	in := Injection{PerWindow: 1, MinSigma: 3, MaxSigma: 10}
	rng := rand.New(rand.NewPCG(7, 7))
	seen := map[int]bool{} // shifted tail lengths
	for range 200 {
		w := in.Apply(base, rng)
		if !w.Anomalous || base.Anomalous || base.Values[0] != 1 {
			t.Fatal("Apply must label the copy and leave the window alone")
		}
		channels := 0
		for c := range 2 {
			k, shift := 0, 0.0
			for i := range 4 {
				if d := w.Value(i, c) - base.Value(i, c); d != 0 {
					if k == 0 {
						shift = d
					} else if math.Abs(d-shift) > 1e-9 {
						t.Fatalf("channel %d: shifts %v and %v in one window", c, shift, d)
					}
					k++
				} else if k > 0 {
					t.Fatalf("channel %d: reading %d unshifted after a shifted one", c, i)
				}
			}
			if k == 0 {
				continue
			}
			channels++
			seen[k] = true
			if s := math.Abs(shift) / base.Stats.Std[c]; s < in.MinSigma || s > in.MaxSigma {
				t.Fatalf("channel %d: shift of %v sd, want in [%v,%v]", c, s, in.MinSigma, in.MaxSigma)
			}
		}
		if channels == 0 {
			t.Fatal("no channel shifted")
		}
	}
	if len(seen) != 4 {
		t.Errorf("tail lengths seen %v, want 1 to 4", seen)
	}
}

func TestThreshold(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		labels []uint8
		budget float64
		floor  float32
		want   float32
	}{
		{name: "no budget: the largest normal score", scores: []float32{0.1, 0.9, 0.7, 0.99}, labels: []uint8{0, 0, 0, 1}, want: 0.9},
		{name: "budget lets one exceed", scores: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, labels: make([]uint8, 10), budget: 0.1, want: 9},
		{name: "budget below one window", scores: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, labels: make([]uint8, 10), budget: 0.05, want: 10},
		{name: "floor", scores: []float32{0.1, 0.2}, labels: []uint8{0, 0}, floor: 0.5, want: 0.5},
		{name: "no normal window", scores: []float32{0.8}, labels: []uint8{1}, floor: 0.5, want: 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Threshold(tt.scores, tt.labels, tt.budget, tt.floor); got != tt.want {
				t.Fatalf("Threshold = %v, want %v", got, tt.want)
			}
		})
	}
	if c := Confuse([]float32{0.2, 0.6, 0.9, 0.4}, []uint8{0, 0, 1, 1}, 0.5); c != (Confusion{TP: 1, FP: 1, FN: 1, TN: 1}) {
		t.Fatalf("Confuse = %+v", c)
	}
}

func TestRuleScores(t *testing.T) {
	tests := []struct {
		name   string
		newest []float64 // humidity, temperature of the newest reading
		want   float32
	}{
		{name: "humidity", newest: []float64{9, 20}, want: 4},          // |9−1|/2
		{name: "temperature below", newest: []float64{1, 17}, want: 6}, // |17−20|/0.5
		{name: "at the mean", newest: []float64{1, 20}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Window{Channels: 2, Values: append([]float64{100, 100}, tt.newest...), Stats: Stats{Mean: []float64{1, 20}, Std: []float64{2, 0.5}}}
			if got := RuleScores([]Window{w}, DefaultWindowConfig()); got[0] != tt.want {
				t.Fatalf("RuleScores = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTelosB runs the whole experiment, shortened, on the real readings.
func TestTelosB(t *testing.T) {
	path := testenv.SharedFile(t, "data/telosb/multihop.csv")
	ctx := context.Background()
	readings, err := LoadTelosB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	nodes := ByNode(readings)
	if len(readings) != 18760 || len(nodes) != 4 {
		t.Fatalf("%d readings of %d motes, want 18,760 of 4", len(readings), len(nodes))
	}
	wantAnomalies := []int{58, 0, 100, 0}
	for i, n := range nodes {
		if n.Anomalies() != wantAnomalies[i] || n.Indoor != (i >= 2) {
			t.Fatalf("mote %s: %d anomalies, indoor %v", n.ID, n.Anomalies(), n.Indoor)
		}
	}
	cfg := DefaultConfig()
	cfg.Seeds, cfg.Rounds = []uint64{1}, 8
	cfg.QuantizedUplink = &model.EncodeOptions{Quantization: model.Int8, Compress: true}
	data, err := Prepare(nodes, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range rep.Nodes {
		if n.TrainAnomalies != 0 || n.TestAnomalies != wantAnomalies[i] {
			t.Errorf("mote %s: %d anomalies in training, %d in test; want 0 and %d (each is one episode, after the middle)", n.ID, n.TrainAnomalies, n.TestAnomalies, wantAnomalies[i])
		}
	}
	byName := map[string]Outcome{}
	for _, o := range rep.Outcomes {
		byName[o.Setting] = o
	}
	if len(rep.Outcomes) != 6 || len(byName[Local].Cross) != 4 {
		t.Fatalf("%d outcomes, want the rule, local, federated twice, tuned, centralised", len(rep.Outcomes))
	}
	for _, s := range []string{Rule, Local, Federated, FederatedQuantized, FederatedTuned, Centralised} {
		o := byName[s]
		all := o.Overall()
		t.Logf("%-30s F1 %.2f precision %.2f recall %.2f (%+v)", s, all.F1(), all.Precision(), all.Recall(), all)
		if all.Positives() != 158 || !(all.F1() > 0.3) {
			t.Errorf("%s: %+v: want 158 anomalies and F1 above 0.3", s, all)
		}
	}
	f, q := byName[Federated], byName[FederatedQuantized]
	if !(q.UplinkBytesPerRound > 0 && q.UplinkBytesPerRound < f.UplinkBytesPerRound/2) {
		t.Errorf("uplink bytes a round: float32 %v, int8+zstd %v", f.UplinkBytesPerRound, q.UplinkBytesPerRound)
	}
}
