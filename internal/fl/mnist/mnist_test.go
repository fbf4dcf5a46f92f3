package mnist

import (
	"path/filepath"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fl/train"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

func TestLoadAndSplit(t *testing.T) {
	dir := testenv.GoModuleDir(t, Module)
	// The first 6,000 training examples keep the test to seconds under the
	// race detector; the splits scale down to 100 clients of 60.
	trainSet, testSet, err := LoadFirst(filepath.Join(dir, "data"), 6000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if trainSet.Len() != 6000 || testSet.Len() != 10000 {
		t.Fatalf("%d training and %d test examples", trainSet.Len(), testSet.Len())
	}
	iid, err := SplitIID(trainSet, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(iid) != 100 || iid[7].Len() != 60 || distinct(iid[7].Labels) < 8 {
		t.Fatalf("IID: %d clients, client 7 has %d examples of %d labels", len(iid), iid[7].Len(), distinct(iid[7].Labels))
	}
	shards, err := SplitShards(trainSet, 100, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for _, c := range shards {
		if c.Len() != 60 {
			t.Fatalf("non-IID client with %d examples", c.Len())
		}
		if distinct(c.Labels) <= 2 {
			most++
		}
	}
	if most < 80 {
		t.Fatalf("non-IID: only %d of 100 clients see at most 2 labels", most)
	}
	if _, err := SplitShards(trainSet, 100, 100, 1); err == nil {
		t.Fatal("more shards than examples: no error")
	}
}

func distinct(labels []uint8) int {
	seen := map[uint8]bool{}
	for _, l := range labels {
		seen[l] = true
	}
	return len(seen)
}

// TestTestSetIsMNISTs: the 10,000 test examples are MNIST's test set (its
// label counts) and none of them is, pixel for pixel, a training image; the
// splits deal out every training example exactly once.
func TestTestSetIsMNISTs(t *testing.T) {
	if testing.Short() {
		t.Skip("reads all 70,000 images")
	}
	dir := testenv.GoModuleDir(t, Module)
	trainSet, testSet, err := Load(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if trainSet.Len() != 60000 || testSet.Len() != 10000 {
		t.Fatalf("%d training and %d test examples", trainSet.Len(), testSet.Len())
	}
	if got, want := histogram(testSet.Labels), [Classes]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}; got != want {
		t.Fatalf("test labels %v, MNIST's test set has %v", got, want)
	}
	seen := map[string]bool{}
	for i := range trainSet.Len() {
		seen[key(trainSet.Row(i))] = true
	}
	for i := range testSet.Len() {
		if seen[key(testSet.Row(i))] {
			t.Fatalf("test image %d is also a training image", i)
		}
	}
	iid, err := SplitIID(trainSet, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := SplitShards(trainSet, 100, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, split := range map[string][]train.Dataset{"IID": iid, "non-IID": shards} {
		dealt := map[string]int{}
		for c, d := range split {
			if d.Len() != 600 {
				t.Fatalf("%s client %d: %d examples, want 600", name, c, d.Len())
			}
			for i := range d.Len() {
				dealt[key(d.Row(i))]++
			}
		}
		for k, n := range dealt {
			if n != 1 || !seen[k] {
				t.Fatalf("%s: an image dealt %d times (in the training set: %v)", name, n, seen[k])
			}
		}
		if len(dealt) != len(seen) {
			t.Fatalf("%s: %d of %d distinct training images dealt", name, len(dealt), len(seen))
		}
	}
}

func histogram(labels []uint8) (h [Classes]int) {
	for _, l := range labels {
		h[l]++
	}
	return h
}

// key is an image's pixels as bytes.
func key(row []float32) string {
	b := make([]byte, len(row))
	for i, v := range row {
		b[i] = byte(v*255 + 0.5)
	}
	return string(b)
}
