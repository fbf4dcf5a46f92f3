package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

// Runtime runs pipelines on one edge node.
type Runtime struct {
	node    stages.Node
	log     *slog.Logger
	options []pipelines.RunnerOption

	mu      sync.Mutex
	runners []*pipelines.Runner
	cancel  context.CancelFunc
	stopped bool
	done    chan struct{}
}

// Result is what became of one pipeline given to Runtime.Run.
type Result struct {
	Pipeline *pipelines.Pipeline
	// Skipped: its node_selector does not match the node's labels; it did not run.
	Skipped bool
	Stats   pipelines.Stats
	Err     error
}

// NewRuntime returns a Runtime for node. logger may be nil (discard); options
// apply to every pipeline's Runner.
func NewRuntime(node stages.Node, logger *slog.Logger, options ...pipelines.RunnerOption) *Runtime {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{node: node, log: logger.With("node", node.ID), options: options}
}

// Node is the node the runtime runs pipelines on.
func (rt *Runtime) Node() stages.Node { return rt.node }

// Selects reports whether a pipeline with node selector sel runs on a node with
// labels: every selector label must be present with the same value.
func Selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Run builds every pipeline whose node_selector matches the node and runs them
// concurrently until ctx ends or Stop is called (then each drains) or they all
// end by themselves. Pipelines that do not match are skipped and logged. If any
// pipeline fails to build, none runs: what was built is closed and the build
// errors are returned. Otherwise the error joins the pipelines' Run errors.
// Results are in the order of pipes. A Runtime runs once.
func (rt *Runtime) Run(ctx context.Context, pipes []*pipelines.Pipeline) ([]Result, error) {
	rt.mu.Lock()
	if rt.done != nil {
		rt.mu.Unlock()
		return nil, errors.New("edge runtime already ran")
	}
	rt.done = make(chan struct{})
	defer close(rt.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rt.cancel = cancel
	if rt.stopped {
		cancel()
	}
	rt.mu.Unlock()

	results := make([]Result, len(pipes))
	runners := make([]*pipelines.Runner, len(pipes))
	var buildErrs []error
	for i, p := range pipes {
		results[i].Pipeline = p
		if !Selects(p.NodeSelector, rt.node.Labels) {
			results[i].Skipped = true
			rt.log.Info("pipeline skipped: its node_selector does not match this node", "pipeline", p.Name,
				"node_selector", FormatLabels(p.NodeSelector), "labels", FormatLabels(rt.node.Labels))
			continue
		}
		r, err := p.Build(ctx, stages.Env{Node: rt.node, Pipeline: p.Name, Logger: rt.log}, rt.options...)
		if err != nil {
			results[i].Err = err
			buildErrs = append(buildErrs, err)
			continue
		}
		runners[i] = r
	}
	if len(buildErrs) > 0 {
		for i, r := range runners {
			if r != nil {
				if err := r.Close(); err != nil {
					rt.log.Warn("closing pipeline after a failed build", "pipeline", pipes[i].Name, "error", err)
				}
			}
		}
		return results, errors.Join(buildErrs...)
	}

	rt.mu.Lock()
	for _, r := range runners {
		if r != nil {
			rt.runners = append(rt.runners, r)
		}
	}
	rt.mu.Unlock()
	if len(rt.runners) == 0 {
		rt.log.Warn("no pipeline runs on this node", "pipelines", len(pipes), "labels", FormatLabels(rt.node.Labels))
	}

	var wg sync.WaitGroup
	for i, r := range runners {
		if r == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					results[i].Err = fmt.Errorf("pipeline %q: panic: %v", pipes[i].Name, v)
				}
			}()
			results[i].Err = r.Run(ctx)
		}()
	}
	wg.Wait()
	var errs []error
	for i, r := range runners {
		if r == nil {
			continue
		}
		results[i].Stats = r.Stats()
		if results[i].Err != nil {
			errs = append(errs, results[i].Err)
		}
	}
	return results, errors.Join(errs...)
}

// Stats returns a snapshot of every running (or finished) pipeline's counters.
func (rt *Runtime) Stats() []pipelines.Stats {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]pipelines.Stats, 0, len(rt.runners))
	for _, r := range rt.runners {
		out = append(out, r.Stats())
	}
	return out
}

// Stop makes Run drain every pipeline and waits until Run returned. Calling Stop
// before Run makes Run return at once after building; Stop is idempotent.
func (rt *Runtime) Stop() {
	rt.mu.Lock()
	rt.stopped = true
	cancel, done := rt.cancel, rt.done
	rt.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		<-done
	}
}
