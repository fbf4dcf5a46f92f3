package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

// ReconcilePlan is what a Supervisor does to turn the running tasks into the
// desired ones. A task whose run spec (pipeline and parameters) changed is in
// both Stop and Start: stopped first, then started again.
type ReconcilePlan struct {
	Start []fleet.Task // desired and not running, in id order
	Stop  []string     // running and no longer desired (or changed), in id order
	Keep  []string     // running as desired: left alone, in id order
}

// Empty reports whether the plan changes nothing.
func (p ReconcilePlan) Empty() bool { return len(p.Start) == 0 && len(p.Stop) == 0 }

// PlanReconcile compares the desired tasks with the running ones (task id →
// fleet.Task.RunSpec of what runs) and says what to start, stop and keep. It is
// pure: the same inputs always give the same plan.
func PlanReconcile(desired []fleet.Task, running map[string]string) ReconcilePlan {
	var p ReconcilePlan
	want := make(map[string]bool, len(desired))
	for _, t := range desired {
		want[t.ID] = true
		spec, ok := running[t.ID]
		switch {
		case !ok:
			p.Start = append(p.Start, t)
		case spec != t.RunSpec():
			p.Stop = append(p.Stop, t.ID)
			p.Start = append(p.Start, t)
		default:
			p.Keep = append(p.Keep, t.ID)
		}
	}
	for id := range running {
		if !want[id] {
			p.Stop = append(p.Stop, id)
		}
	}
	slices.SortFunc(p.Start, func(a, b fleet.Task) int { return strings.Compare(a.ID, b.ID) })
	slices.Sort(p.Stop)
	slices.Sort(p.Keep)
	return p
}

// SupervisorConfig configures a Supervisor. Node is required.
type SupervisorConfig struct {
	Node stages.Node
	// PipelinesDir holds the pipeline files tasks name: task pipeline "boiler"
	// runs PipelinesDir/boiler.yaml (or .yml). Tasks carrying their pipeline
	// inline need none.
	PipelinesDir string
	// Options apply to every pipeline's Runner.
	Options []pipelines.RunnerOption
	// RestartBackoff is the pause before a task whose pipeline failed to build or
	// ended is started again; it doubles with each failure in a row up to
	// MaxRestartBackoff (defaults 1s and 30s).
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	Logger            *slog.Logger
	// OnChange, if set, is called after each reconcile that started or stopped
	// something, with the ids of the tasks running then.
	OnChange func(running []string)
}

// Supervisor runs the tasks assigned to a node: it reconciles the running
// pipelines to the desired set (SetDesired, or FollowAssignments reading the
// assignment topic), starting new tasks, draining and stopping removed ones
// and leaving unchanged ones alone. A task whose pipeline fails or ends is
// started again after a backoff while it stays desired.
type Supervisor struct {
	cfg  SupervisorConfig
	log  *slog.Logger
	wake chan struct{}

	mu       sync.Mutex
	desired  []fleet.Task
	known    bool // desired was set at least once
	running  map[string]*taskRun
	failures map[string]*restart
	lastErr  map[string]error // why a desired task is not running
	// readUpTo is the last offset of each partition of the assignment topic
	// CatchUpAssignments read; HandleAssignment skips records up to it.
	readUpTo map[kafkabus.Partition]int64
}

type taskRun struct {
	task   fleet.Task
	spec   string
	runner *pipelines.Runner
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
}

type restart struct {
	n    int
	next time.Time
}

// NewSupervisor checks cfg and fills defaults.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	if err := ValidateID(cfg.Node.ID); err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = time.Second
	}
	if cfg.MaxRestartBackoff < cfg.RestartBackoff {
		cfg.MaxRestartBackoff = max(30*time.Second, cfg.RestartBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{cfg: cfg, log: cfg.Logger.With("node", cfg.Node.ID), wake: make(chan struct{}, 1),
		running: map[string]*taskRun{}, failures: map[string]*restart{}, lastErr: map[string]error{}}, nil
}

// SetDesired replaces the set of tasks the node should run; Run reconciles to
// it promptly. It never blocks.
func (s *Supervisor) SetDesired(tasks []fleet.Task) {
	s.mu.Lock()
	s.desired, s.known = slices.Clone(tasks), true
	for id := range s.failures {
		if !slices.ContainsFunc(tasks, func(t fleet.Task) bool { return t.ID == id }) {
			delete(s.failures, id)
			delete(s.lastErr, id)
		}
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Supervisor) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends, then drains and stops every task and returns
// nil. Before the first SetDesired nothing starts.
func (s *Supervisor) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.reconcile(ctx)
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			s.stopAll()
			return nil
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// reconcile runs one step and returns when the next restart is due (zero: none).
func (s *Supervisor) reconcile(ctx context.Context) time.Time {
	s.mu.Lock()
	if !s.known || ctx.Err() != nil {
		s.mu.Unlock()
		return time.Time{}
	}
	now := time.Now()
	for id, r := range s.running { // collect tasks that ended
		select {
		case <-r.done:
			delete(s.running, id)
			s.failed(id, fmt.Errorf("pipeline ended: %w", orEnded(r.err)), now)
		default:
		}
	}
	specs := make(map[string]string, len(s.running))
	for id, r := range s.running {
		specs[id] = r.spec
	}
	plan := PlanReconcile(s.desired, specs)
	var stopping []*taskRun
	for _, id := range plan.Stop {
		stopping = append(stopping, s.running[id])
		delete(s.running, id)
	}
	s.mu.Unlock()

	// Stop first, so a restarted task's previous instance has let go of what it
	// held (a consumer-group membership, a listening port) before it starts.
	changed := len(stopping) > 0
	stopRuns(stopping, s.log)

	var next time.Time
	for _, t := range plan.Start {
		s.mu.Lock()
		f := s.failures[t.ID]
		s.mu.Unlock()
		if f != nil && now.Before(f.next) {
			if next.IsZero() || f.next.Before(next) {
				next = f.next
			}
			continue
		}
		r, err := s.start(ctx, t)
		s.mu.Lock()
		if err != nil {
			s.failed(t.ID, err, now)
			if f := s.failures[t.ID]; next.IsZero() || f.next.Before(next) {
				next = f.next
			}
		} else {
			s.running[t.ID] = r
			delete(s.lastErr, t.ID)
			changed = true
		}
		s.mu.Unlock()
	}
	if changed && s.cfg.OnChange != nil {
		s.cfg.OnChange(s.Running())
	}
	return next
}

func orEnded(err error) error {
	if err == nil {
		return errors.New("its sources ended")
	}
	return err
}

// failed records a failure of task id and when it may start again; under mu.
func (s *Supervisor) failed(id string, err error, now time.Time) {
	f := s.failures[id]
	if f == nil {
		f = &restart{}
		s.failures[id] = f
	}
	backoff := min(s.cfg.RestartBackoff<<min(f.n, 16), s.cfg.MaxRestartBackoff)
	f.n++
	f.next = now.Add(backoff)
	s.lastErr[id] = err
	s.log.Warn("task not running", "task", id, "error", err, "retry_in", backoff)
}

// start loads, builds and starts the pipeline of t.
func (s *Supervisor) start(ctx context.Context, t fleet.Task) (*taskRun, error) {
	p, err := s.load(t)
	if err != nil {
		return nil, err
	}
	if !Selects(p.NodeSelector, s.cfg.Node.Labels) {
		return nil, fmt.Errorf("task %s: pipeline %s: node_selector %s does not match the node's labels %s",
			t.ID, p.File, FormatLabels(p.NodeSelector), FormatLabels(s.cfg.Node.Labels))
	}
	runCtx, cancel := context.WithCancel(ctx)
	runner, err := p.Build(runCtx, stages.Env{Node: s.cfg.Node, Pipeline: t.ID, Logger: s.log.With("task", t.ID)}, s.cfg.Options...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}
	r := &taskRun{task: t, spec: t.RunSpec(), runner: runner, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer s.poke() // after done is closed: the ended task is collected and, while desired, restarted
		defer close(r.done)
		defer func() {
			if v := recover(); v != nil {
				r.err = fmt.Errorf("task %s: panic: %v", t.ID, v)
			}
		}()
		r.err = runner.Run(runCtx)
	}()
	s.log.Info("task started", "task", t.ID, "pipeline", p.File)
	return r, nil
}

// load reads the task's pipeline file (or its inline pipeline), substitutes
// the parameters and loads it under the task's id as its name.
func (s *Supervisor) load(t fleet.Task) (*pipelines.Pipeline, error) {
	// An inline pipeline is named like a file of the task's id, so that a
	// missing name: is valid (the pipeline runs as the task's id anyway).
	file, text := t.ID+".yaml", t.PipelineYAML
	if t.Pipeline != "" {
		if s.cfg.PipelinesDir == "" {
			return nil, fmt.Errorf("task %s: pipeline %q: the node has no pipelines directory", t.ID, t.Pipeline)
		}
		var data []byte
		var err error
		for _, ext := range []string{".yaml", ".yml"} {
			file = filepath.Join(s.cfg.PipelinesDir, t.Pipeline+ext)
			if data, err = os.ReadFile(file); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("task %s: pipeline %q: %w", t.ID, t.Pipeline, err)
		}
		text = string(data)
	}
	expanded, err := fleet.ExpandParams(text, t.Params)
	if err != nil {
		return nil, fmt.Errorf("task %s: %s: %w", t.ID, file, err)
	}
	p, err := pipelines.Load(file, []byte(expanded))
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}
	p.Name = t.ID
	return p, nil
}

// stopRuns drains the runs concurrently and waits for all of them.
func stopRuns(runs []*taskRun, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.cancel()
			<-r.done
			if r.err != nil {
				log.Warn("task stopped with an error", "task", r.task.ID, "error", r.err)
			} else {
				log.Info("task stopped", "task", r.task.ID)
			}
		}()
	}
	wg.Wait()
}

func (s *Supervisor) stopAll() {
	s.mu.Lock()
	runs := slices.Collect(maps.Values(s.running))
	clear(s.running)
	s.mu.Unlock()
	stopRuns(runs, s.log)
}

// Running lists the ids of the tasks whose pipelines run, sorted.
func (s *Supervisor) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.running))
}

// Stats returns the counters of every running task's pipeline.
func (s *Supervisor) Stats() []pipelines.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pipelines.Stats, 0, len(s.running))
	for _, id := range slices.Sorted(maps.Keys(s.running)) {
		out = append(out, s.running[id].runner.Stats())
	}
	return out
}

// Ready is a readiness check: nil once an assignment was received and every
// desired task runs; otherwise an error naming each task that does not and why.
func (s *Supervisor) Ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known {
		return errors.New("no assignment received yet")
	}
	var errs []error
	for _, t := range s.desired {
		r, ok := s.running[t.ID]
		switch {
		case !ok && s.lastErr[t.ID] != nil:
			errs = append(errs, fmt.Errorf("task %s: %w", t.ID, s.lastErr[t.ID]))
		case !ok:
			errs = append(errs, fmt.Errorf("task %s: not started yet", t.ID))
		case r.runner.State() != pipelines.StateRunning:
			errs = append(errs, fmt.Errorf("task %s is %s", t.ID, r.runner.State()))
		}
	}
	return errors.Join(errs...)
}
