package pipelines_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

// Lines that do not parse show in edgeflow_dead_letter_total under the step
// that gave up on them, even without a dead_letter: sink.
func TestDeadLetterMetric(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(in, []byte("timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:05Z,x\nnow,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pipelines.Load("dlm.yaml", []byte("name: dlm\nsources:\n  - {type: file, path: "+in+"}\nsinks:\n  - {type: file, path: "+filepath.Join(dir, "out.jsonl")+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := telemetry.NewResource(ctx, telemetry.Config{}, telemetry.Process{Role: telemetry.RoleEdge, NodeID: "node-7"})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := telemetry.NewMetrics(res)
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Shutdown(ctx)
	pm, err := pipelines.NewMetrics(tm.MeterProvider(), "node-7")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "node-7"}}, pm.RunnerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := pm.Observe(func() []pipelines.Stats { return []pipelines.Stats{r.Stats()} })
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	m := sample(scrape(t, tm.Handler()), "edgeflow_dead_letter_total",
		map[string]string{"node": "node-7", "pipeline": "dlm", "step": "sources[0]", "stage": "file"})
	if m == nil || m.GetCounter().GetValue() != 2 {
		t.Fatalf("edgeflow_dead_letter_total = %v, want 2", m)
	}
}
