package mnist

import (
	"path/filepath"
	"testing"

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
