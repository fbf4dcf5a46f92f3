package file_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/file"
	_ "github.com/edgeflow/edgeflow/stages/generate"
)

func run(t *testing.T, yaml string) pipelines.Stats {
	t.Helper()
	p, err := pipelines.Load("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	runner, err := p.Build(context.Background(), stages.Env{Node: stages.Node{ID: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return runner.Stats()
}

// TestPipelineGenerateThenReplay writes a simulated hour to a file, replays that
// file into another, and expects the same bytes.
func TestPipelineGenerateThenReplay(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a", "gen.jsonl"), filepath.Join(dir, "b", "copy.jsonl")
	run(t, fmt.Sprintf(`name: gen
sources:
  - type: generate
    seed: 3
    start: 2026-01-01T00:00:00Z
    realtime: false
    duration: 1h
    interval: 10s
    anomaly_rate: 0.01
sinks:
  - type: file
    path: %s
    fsync: never
`, first))
	stats := run(t, fmt.Sprintf(`name: replay
sources:
  - type: file
    path: %s
    batch: 64
sinks:
  - type: file
    path: %s
`, first, second))
	a, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(a, []byte("\n")); n < 600 || !bytes.Equal(a, b) {
		t.Fatalf("%d lines generated; replay identical: %v", n, bytes.Equal(a, b))
	}
	t.Log(stats)
}
