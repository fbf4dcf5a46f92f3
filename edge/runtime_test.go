package edge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

// Test-only stages: rt-src emits Count messages then waits for its context;
// rt-sink records what it got per pipeline.

type rtSrcConfig struct {
	Count int `yaml:"count"`
}

func (c *rtSrcConfig) Validate() error { return nil }

type rtSinkConfig struct {
	FailBuild bool `yaml:"fail_build"`
}

func (c *rtSinkConfig) Validate() error { return nil }

var written struct {
	sync.Mutex
	byPipeline map[string]int
	nodes      map[string]string
}

type rtSource struct {
	count int
	env   stages.Env
}

func (s *rtSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	for i := 0; i < s.count; i++ {
		if err := emit(ctx, message.NewMessage(fmt.Sprint(i), message.Payload("x"))); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

type rtSink struct{ env stages.Env }

func (s *rtSink) Write(ctx context.Context, msgs []*message.Message) error {
	written.Lock()
	defer written.Unlock()
	for _, m := range msgs {
		written.byPipeline[m.Metadata.Get(stages.MetaPipeline)]++
	}
	written.nodes[s.env.Pipeline] = s.env.Node.ID
	return nil
}

func init() {
	written.byPipeline = map[string]int{}
	written.nodes = map[string]string{}
	stages.RegisterSource(stages.Info{ID: "rt-src"}, func() *rtSrcConfig { return &rtSrcConfig{} },
		func(ctx context.Context, c *rtSrcConfig, env stages.Env) (stages.Source, error) {
			return &rtSource{count: c.Count, env: env}, nil
		})
	stages.RegisterSink(stages.Info{ID: "rt-sink"}, func() *rtSinkConfig { return &rtSinkConfig{} },
		func(ctx context.Context, c *rtSinkConfig, env stages.Env) (stages.Sink, error) {
			if c.FailBuild {
				return nil, errors.New("no route to host")
			}
			return &rtSink{env: env}, nil
		})
}

func testPipeline(name string, selector map[string]string, count int, failBuild bool) *pipelines.Pipeline {
	src, _ := stages.Lookup(stages.KindSource, "rt-src")
	sink, _ := stages.Lookup(stages.KindSink, "rt-sink")
	return &pipelines.Pipeline{File: name + ".yaml", Name: name, NodeSelector: selector,
		Sources: []pipelines.Step{{Path: "sources[0] (rt-src)", Line: 2, Reg: src, Config: &rtSrcConfig{Count: count}}},
		Sinks:   []pipelines.Step{{Path: "sinks[0] (rt-sink)", Line: 5, Reg: sink, Config: &rtSinkConfig{FailBuild: failBuild}}},
	}
}

func TestSelects(t *testing.T) {
	labels := map[string]string{"site": "plant-1", "role": "gateway"}
	tests := []struct {
		sel  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"site": "plant-1"}, true},
		{map[string]string{"site": "plant-1", "role": "gateway"}, true},
		{map[string]string{"site": "plant-2"}, false},
		{map[string]string{"zone": ""}, false},
		{map[string]string{"site": "plant-1", "zone": "a"}, false},
	}
	for _, tt := range tests {
		if got := Selects(tt.sel, labels); got != tt.want {
			t.Errorf("Selects(%v) = %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestRuntimeRunsSelectedPipelinesAndDrainsOnStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	written.Lock()
	written.byPipeline, written.nodes = map[string]int{}, map[string]string{}
	written.Unlock()
	node := stages.Node{ID: "gw-1", Labels: map[string]string{"site": "plant-1"}}
	rt := NewRuntime(node, nil, pipelines.WithDrainTimeout(5*time.Second))
	pipes := []*pipelines.Pipeline{
		testPipeline("edge-a", nil, 5, false),
		testPipeline("edge-b", map[string]string{"site": "plant-1"}, 7, false),
		testPipeline("edge-c", map[string]string{"site": "plant-2"}, 3, false),
	}
	type runResult struct {
		res []Result
		err error
	}
	done := make(chan runResult, 1)
	go func() {
		res, err := rt.Run(context.Background(), pipes)
		done <- runResult{res, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		written.Lock()
		n := written.byPipeline["edge-a"] + written.byPipeline["edge-b"]
		written.Unlock()
		if n == 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipelines wrote %d messages, want 12", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rt.Stop()
	var rr runResult
	// Stop returns once Run's deferred work is done; the goroutine then only
	// has to hand over the result.
	select {
	case rr = <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop returned, but Run did not return within 2s")
	}
	if rr.err != nil {
		t.Fatalf("Run: %v", rr.err)
	}
	if !rr.res[2].Skipped || rr.res[0].Skipped || rr.res[1].Skipped {
		t.Errorf("skipped: %v %v %v", rr.res[0].Skipped, rr.res[1].Skipped, rr.res[2].Skipped)
	}
	if rr.res[0].Stats.Acked != 5 || rr.res[1].Stats.Acked != 7 {
		t.Errorf("stats %s / %s", rr.res[0].Stats, rr.res[1].Stats)
	}
	written.Lock()
	defer written.Unlock()
	if written.byPipeline["edge-c"] != 0 {
		t.Error("skipped pipeline ran")
	}
	if written.nodes["edge-a"] != "gw-1" {
		t.Errorf("stage env node %q", written.nodes["edge-a"])
	}
	if len(rt.Stats()) != 2 {
		t.Errorf("Stats() has %d pipelines, want 2", len(rt.Stats()))
	}
	rt.Stop() // idempotent
}

func TestRuntimeBuildFailureRunsNothing(t *testing.T) {
	rt := NewRuntime(stages.Node{ID: "n"}, nil)
	pipes := []*pipelines.Pipeline{testPipeline("ok-1", nil, 1, false), testPipeline("broken-1", nil, 1, true)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := rt.Run(ctx, pipes)
	if err == nil || err.Error() != "broken-1.yaml:5: sinks[0] (rt-sink): no route to host" {
		t.Fatalf("Run error %v", err)
	}
	if res[1].Err == nil || res[0].Err != nil {
		t.Errorf("results %+v", res)
	}
	written.Lock()
	defer written.Unlock()
	if written.byPipeline["ok-1"] != 0 {
		t.Error("a pipeline ran although another failed to build")
	}
}

func TestRuntimeStopBeforeRun(t *testing.T) {
	rt := NewRuntime(stages.Node{ID: "n"}, nil)
	rt.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(context.Background(), []*pipelines.Pipeline{testPipeline("early", nil, 0, false)})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Stop")
	}
}
