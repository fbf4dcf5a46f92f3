package simulate

import (
	"context"
	"path/filepath"
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
