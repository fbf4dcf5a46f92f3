package edge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

func TestRuntimeReady(t *testing.T) {
	ctx := context.Background()
	rt := NewRuntime(stages.Node{ID: "gw-1"}, nil, pipelines.WithDrainTimeout(5*time.Second))
	if err := rt.Ready(ctx); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Ready before Run = %v, want not started", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(ctx, []*pipelines.Pipeline{testPipeline("ready-a", nil, 1, false), testPipeline("ready-b", nil, 1, false)})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for rt.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 10s: %v", rt.Ready(ctx))
		}
		time.Sleep(5 * time.Millisecond)
	}
	rt.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	err := rt.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), `pipeline "ready-a" is stopped`) || !strings.Contains(err.Error(), `pipeline "ready-b" is stopped`) {
		t.Errorf("Ready after Stop = %v, want each pipeline named as stopped", err)
	}
}
