package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

func task(id, pipeline string, params map[string]string) fleet.Task {
	return fleet.Task{Schema: 1, ID: id, Pipeline: pipeline, Params: params}
}

func TestPlanReconcile(t *testing.T) {
	a, b, c := task("a", "p", nil), task("b", "p", nil), task("c", "q", map[string]string{"x": "1"})
	cChanged := task("c", "q", map[string]string{"x": "2"})
	cMoreCPU := c
	cMoreCPU.Resources.MilliCPU = 500
	tests := []struct {
		name    string
		desired []fleet.Task
		running map[string]string
		want    ReconcilePlan
	}{
		{"nothing", nil, nil, ReconcilePlan{}},
		{"start all", []fleet.Task{b, a}, nil, ReconcilePlan{Start: []fleet.Task{a, b}}},
		{"stop all", nil, map[string]string{"a": a.RunSpec(), "b": b.RunSpec()}, ReconcilePlan{Stop: []string{"a", "b"}}},
		{"keep unchanged, start new, stop removed", []fleet.Task{a, c}, map[string]string{"a": a.RunSpec(), "b": b.RunSpec()},
			ReconcilePlan{Start: []fleet.Task{c}, Stop: []string{"b"}, Keep: []string{"a"}}},
		{"changed params restart", []fleet.Task{cChanged}, map[string]string{"c": c.RunSpec()},
			ReconcilePlan{Start: []fleet.Task{cChanged}, Stop: []string{"c"}}},
		{"changed resources only: keep", []fleet.Task{cMoreCPU}, map[string]string{"c": c.RunSpec()},
			ReconcilePlan{Keep: []string{"c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanReconcile(tt.desired, tt.running)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PlanReconcile =\n %+v\nwant\n %+v", got, tt.want)
			}
			if got.Empty() != (len(tt.want.Start) == 0 && len(tt.want.Stop) == 0) {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSupervisorReconciles(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	written.Lock()
	written.byPipeline, written.nodes = map[string]int{}, map[string]string{}
	written.Unlock()
	dir := t.TempDir()
	file := "sources:\n  - type: rt-src\n    count: ${count}\nsinks:\n  - type: rt-sink\n"
	if err := os.WriteFile(filepath.Join(dir, "counter.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	node := stages.Node{ID: "gw-1", Labels: map[string]string{"site": "plant-1"}}
	var changes [][]string
	sup, err := NewSupervisor(SupervisorConfig{Node: node, PipelinesDir: dir, RestartBackoff: 20 * time.Millisecond,
		Options:  []pipelines.RunnerOption{pipelines.WithDrainTimeout(5 * time.Second)},
		OnChange: func(running []string) { changes = append(changes, running) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	if err := sup.Ready(ctx); err == nil || !strings.Contains(err.Error(), "no assignment") {
		t.Fatalf("Ready before any assignment = %v", err)
	}

	inline := fleet.Task{Schema: 1, ID: "b", PipelineYAML: "name: ignored\nsources:\n  - type: rt-src\n    count: 2\nsinks:\n  - type: rt-sink\n"}
	sup.SetDesired([]fleet.Task{task("a", "counter", map[string]string{"count": "3"}), inline})
	running := func(want ...string) func() bool {
		return func() bool { return slices.Equal(sup.Running(), want) }
	}
	waitFor(t, "a and b running", running("a", "b"))
	waitFor(t, "a and b written", func() bool {
		written.Lock()
		defer written.Unlock()
		return written.byPipeline["a"] == 3 && written.byPipeline["b"] == 2 && written.nodes["a"] == "gw-1"
	})
	waitFor(t, "ready", func() bool { return sup.Ready(ctx) == nil })
	sup.mu.Lock()
	bRunner := sup.running["b"].runner
	sup.mu.Unlock()

	// a removed, c added, b unchanged: b keeps running as it is.
	sup.SetDesired([]fleet.Task{inline, task("c", "counter", map[string]string{"count": "1"})})
	waitFor(t, "b and c running", running("b", "c"))
	sup.mu.Lock()
	same := sup.running["b"].runner == bRunner
	sup.mu.Unlock()
	if !same {
		t.Error("b was restarted though it did not change")
	}

	// A task whose pipeline file is missing does not run; Ready says why.
	sup.SetDesired([]fleet.Task{inline, task("d", "missing", nil)})
	waitFor(t, "b alone running", running("b"))
	waitFor(t, "d retried", func() bool {
		sup.mu.Lock()
		defer sup.mu.Unlock()
		return sup.failures["d"] != nil && sup.failures["d"].n >= 2
	})
	if err := sup.Ready(ctx); err == nil || !strings.Contains(err.Error(), "task d") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Ready with a missing pipeline = %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := sup.Running(); len(got) != 0 {
		t.Fatalf("running after Run returned: %v", got)
	}
	if len(changes) == 0 || !slices.Equal(changes[0], []string{"a", "b"}) && !slices.Equal(changes[0], []string{"a"}) {
		t.Errorf("OnChange calls: %v", changes)
	}
}

func TestHandleAssignment(t *testing.T) {
	sup, err := NewSupervisor(SupervisorConfig{Node: stages.Node{ID: "gw-1"}})
	if err != nil {
		t.Fatal(err)
	}
	record := func(node string, a any) *message.Message {
		var data []byte
		if a != nil {
			data, _ = json.Marshal(a)
		}
		m := message.NewMessage("u", data)
		m.Metadata.Set(fleet.MetaNode, node)
		return m
	}
	desired := func() []string {
		sup.mu.Lock()
		defer sup.mu.Unlock()
		var ids []string
		for _, t := range sup.desired {
			ids = append(ids, t.ID)
		}
		return ids
	}
	a := fleet.Assignment{Schema: 1, NodeID: "gw-1", Generation: 1, Tasks: []fleet.Task{task("t1", "p", nil)}}
	other := a
	other.NodeID = "gw-2"
	steps := []struct {
		name string
		msg  *message.Message
		want []string
	}{
		{"for another node: skipped", record("gw-2", other), nil},
		{"for this node", record("gw-1", a), []string{"t1"}},
		{"invalid: keeps the last good", record("gw-1", map[string]any{"schema": 9}), []string{"t1"}},
		{"keyed to this node, naming another: skipped", record("gw-1", other), []string{"t1"}},
		{"tombstone: nothing", record("gw-1", nil), nil},
	}
	for _, st := range steps {
		sup.HandleAssignment(st.msg)
		if got := desired(); !slices.Equal(got, st.want) {
			t.Fatalf("%s: desired %v, want %v", st.name, got, st.want)
		}
	}
}

// supOnceSource emits one message and ends, so its pipeline ends by itself.
type supOnceSource struct{}

func (supOnceSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	return emit(ctx, message.NewMessage("once", message.Payload("x")))
}

type supOnceConfig struct{}

func (*supOnceConfig) Validate() error { return nil }

func init() {
	stages.RegisterSource(stages.Info{ID: "sup-once"}, func() *supOnceConfig { return &supOnceConfig{} },
		func(context.Context, *supOnceConfig, stages.Env) (stages.Source, error) { return supOnceSource{}, nil })
}

func TestSupervisorRestartsEndedTask(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sup, err := NewSupervisor(SupervisorConfig{Node: stages.Node{ID: "gw-1"}, RestartBackoff: 10 * time.Millisecond, MaxRestartBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	sup.SetDesired([]fleet.Task{{Schema: 1, ID: "once", PipelineYAML: "sources:\n  - type: sup-once\nsinks:\n  - type: rt-sink\n"}})
	waitFor(t, "the ended task started three times", func() bool {
		written.Lock()
		defer written.Unlock()
		return written.byPipeline["once"] >= 3
	})
	// The third run may still be going (a running task has no reason): wait
	// until it ended again and the supervisor recorded why.
	var reason error
	waitFor(t, "the ended task's reason recorded", func() bool {
		sup.mu.Lock()
		defer sup.mu.Unlock()
		reason = sup.lastErr["once"]
		return reason != nil
	})
	if reason == nil || !strings.Contains(reason.Error(), "its sources ended") {
		t.Errorf("why once is not running: %v", reason)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestCatchUpAssignments: a node starting again applies only its latest
// assignment of those the topic holds, then skips them as the subscription
// delivers them again, and applies the records after them; when the catch-up
// read fails it applies every record as it comes.
func TestCatchUpAssignments(t *testing.T) {
	record := func(offset int64, node string, tasks ...string) *message.Message {
		a := fleet.Assignment{Schema: 1, NodeID: node, Generation: uint64(offset + 1)}
		for _, id := range tasks {
			a.Tasks = append(a.Tasks, task(id, "p", nil))
		}
		data, _ := json.Marshal(a)
		m := message.NewMessage(fmt.Sprint(offset), data)
		m.SetContext(kafkabus.ContextWithRecord(context.Background(),
			kafkabus.Record{Topic: "assignments", Partition: 0, Offset: offset, Key: []byte(node)}))
		return m
	}
	topic := []*message.Message{record(0, "gw-1", "t1"), record(1, "gw-2", "t9"), record(2, "gw-1", "t2"), record(3, "gw-1")}
	later := record(4, "gw-1", "t3")
	tests := []struct {
		name        string
		readErr     error
		wantApplied [][]string // the desired sets applied, in order
	}{
		{"caught up: only the latest, then what comes after", nil, [][]string{{}, {"t3"}}},
		{"catch-up failed: every record as it comes", errors.New("broker down"), [][]string{{"t1"}, {"t2"}, {}, {"t3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var applied [][]string
			sup, err := NewSupervisor(SupervisorConfig{Node: stages.Node{ID: "gw-1"},
				Logger: slog.New(assignmentRecorder(func(tasks []string) { applied = append(applied, tasks) }))})
			if err != nil {
				t.Fatal(err)
			}
			read := func(ctx context.Context, each func(*message.Message)) error {
				if tt.readErr != nil {
					return tt.readErr
				}
				for _, m := range topic {
					each(m)
				}
				return nil
			}
			if err := sup.CatchUpAssignments(context.Background(), read); !errors.Is(err, tt.readErr) {
				t.Fatalf("CatchUpAssignments: %v, want %v", err, tt.readErr)
			}
			for _, m := range append(slices.Clone(topic), later) { // the subscription from the oldest
				sup.HandleAssignment(m)
			}
			if fmt.Sprint(applied) != fmt.Sprint(tt.wantApplied) {
				t.Errorf("applied %v, want %v", applied, tt.wantApplied)
			}
		})
	}
}

// assignmentRecorder is a slog handler calling applied with the tasks of each
// "assignment" line the supervisor logs (one per assignment applied).
type assignmentRecorder func(tasks []string)

func (h assignmentRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h assignmentRecorder) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "assignment" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "tasks" {
			tasks, _ := a.Value.Any().([]string)
			h(append([]string{}, tasks...))
		}
		return true
	})
	return nil
}
func (h assignmentRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h assignmentRecorder) WithGroup(string) slog.Handler      { return h }
