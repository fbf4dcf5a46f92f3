package encode_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	_ "github.com/edgeflow/edgeflow/stages/file"
	_ "github.com/edgeflow/edgeflow/stages/generate"
)

// A node that runs the same pipeline twice on one data dir publishes frames
// whose sequence numbers continue above every number of the first run, per
// stream.
func TestPipelineSeqContinuesAfterRestart(t *testing.T) {
	dataDir := t.TempDir()
	maxSeq := map[string]uint64{}
	for run := range 2 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("run%d.frames", run))
		p, err := pipelines.Load("seq.yaml", []byte(fmt.Sprintf(`name: seq
sources:
  - {type: generate, count: 250, realtime: false, start: "2026-01-0%dT00:00:00Z",
     sensors: [{name: a, kind: temperature, interval: 1s}, {name: b, kind: humidity, interval: 1s}]}
stages:
  - {type: encode, block_size: 50}
sinks:
  - {type: file, path: %s, fsync: never}
`, run+1, out)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Build(context.Background(), stages.Env{Node: stages.Node{ID: "n1", DataDir: dataDir}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		dec := frame.NewDecoder()
		var b frame.Block
		seen := map[string]uint64{}
		for len(data) > 0 {
			f, rest, err := frame.Next(data)
			if err != nil {
				t.Fatal(err)
			}
			h, err := dec.Decode(f, &b)
			if err != nil {
				t.Fatal(err)
			}
			data = rest
			if h.Seq <= maxSeq[h.Stream] {
				t.Fatalf("run %d stream %s: seq %d, but run %d went up to %d", run, h.Stream, h.Seq, run-1, maxSeq[h.Stream])
			}
			if h.Seq <= seen[h.Stream] {
				t.Fatalf("run %d stream %s: seq %d after %d", run, h.Stream, h.Seq, seen[h.Stream])
			}
			seen[h.Stream] = h.Seq
		}
		if len(seen) != 2 {
			t.Fatalf("run %d: streams %v", run, seen)
		}
		for s, q := range seen {
			maxSeq[s] = q
		}
	}
	if _, err := os.Stat(encode.SeqFilePath(dataDir, "seq")); err != nil {
		t.Errorf("sequence file: %v", err)
	}
	for s, q := range maxSeq {
		if q <= encode.SeqReserve {
			t.Errorf("stream %s: second run ended at %d, want above the first reservation", s, q)
		}
	}
}
