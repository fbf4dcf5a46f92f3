package schedule

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/placement"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recordingWriter keeps every assignment written, and the latest per node.
type recordingWriter struct {
	mu       sync.Mutex
	all      []fleet.Assignment
	latest   map[string][]string
	statuses []fleet.SchedulerStatus
}

func (w *recordingWriter) WriteAssignment(_ context.Context, a fleet.Assignment) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest == nil {
		w.latest = map[string][]string{}
	}
	w.all = append(w.all, a)
	ids := []string{}
	for _, t := range a.Tasks {
		ids = append(ids, t.ID)
	}
	w.latest[a.NodeID] = ids
	return nil
}

func (w *recordingWriter) WriteStatus(_ context.Context, st fleet.SchedulerStatus) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.statuses = append(w.statuses, st)
	return nil
}

func (w *recordingWriter) of(node string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest[node]
}

func heartbeat(id string, at time.Time, milliCPU, memory int64, labels map[string]string) fleet.Heartbeat {
	return fleet.Heartbeat{Schema: 1, NodeID: id, Version: "test", Time: at, IntervalMillis: 500, Labels: labels,
		Capacity: fleet.HeartbeatResources{MilliCPU: milliCPU, MemoryBytes: memory},
		Free:     fleet.HeartbeatResources{MilliCPU: milliCPU / 10, MemoryBytes: memory / 10}, Pipelines: []string{}}
}

func newTask(id string, milliCPU, memory int64, priority int) fleet.Task {
	return fleet.Task{Schema: 1, ID: id, Pipeline: "p", Priority: priority,
		Resources: fleet.Resources{MilliCPU: milliCPU, MemoryBytes: memory}}
}

func newScheduler(t *testing.T, clock *fakeClock, preempt bool) (*Scheduler, *cloud.NodeTracker, *recordingWriter) {
	t.Helper()
	tracker, err := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: 2 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	planner, err := placement.NewPlanner("best-fit", placement.Options{Seed: 1, Preempt: preempt})
	if err != nil {
		t.Fatal(err)
	}
	w := &recordingWriter{}
	s, err := New(Config{Planner: planner, Tracker: tracker, Writer: w, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, tracker, w
}

func observe(t *testing.T, tr *cloud.NodeTracker, hbs ...fleet.Heartbeat) {
	t.Helper()
	for _, hb := range hbs {
		if err := tr.Observe(hb); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundPlacesMovesAndWaits(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, tr, w := newScheduler(t, clock, false)
	alive := func(ids ...string) {
		for _, id := range ids {
			observe(t, tr, heartbeat(id, clock.Now(), 1000, 1<<30, map[string]string{"zone": id}))
		}
	}
	alive("n1", "n2", "n3")
	for _, task := range []fleet.Task{newTask("a", 600, 1<<28, 0), newTask("b", 600, 1<<28, 0), newTask("c", 600, 1<<28, 0)} {
		s.PutTask(task)
	}
	rep, err := s.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	for node, ids := range rep.Assignments.All() {
		if len(ids) > 1 {
			t.Fatalf("node %s got %v: 600m each on 1000m nodes overcommits", node, ids)
		}
		for _, id := range ids {
			where[id] = node
		}
	}
	if len(where) != 3 || len(rep.Pending) != 0 || len(rep.Written) != 3 || rep.Generation != 1 {
		t.Fatalf("first round: %+v", rep)
	}

	// Nothing changed, or a task submitted again as it was: nothing is written.
	if rep, err = s.Round(context.Background()); err != nil || len(rep.Written) != 0 || rep.Generation != 1 {
		t.Fatalf("idle round: %+v, %v", rep, err)
	}
	s.PutTask(newTask("a", 600, 1<<28, 0))
	if rep, err = s.Round(context.Background()); err != nil || len(rep.Written) != 0 || rep.Generation != 1 {
		t.Fatalf("round after a task was submitted again unchanged: %+v, %v", rep, err)
	}

	// A fourth task does not fit anywhere: it waits, with the filters' reason.
	s.PutTask(newTask("d", 600, 1<<28, 0))
	rep, _ = s.Round(context.Background())
	if len(rep.Pending) != 1 || rep.Pending[0].TaskID != "d" || !strings.Contains(rep.Pending[0].Reason, "3 insufficient cpu") {
		t.Fatalf("pending: %+v", rep.Pending)
	}
	// The status is written when the pending list changes: empty after the
	// first round, then with d.
	if n := len(w.statuses); n != 2 || len(w.statuses[0].Pending) != 0 || w.statuses[1].Pending[0].ID != "d" ||
		w.statuses[1].Pending[0].Reason != rep.Pending[0].Reason {
		t.Fatalf("statuses written: %+v", w.statuses)
	}

	// The node running a goes silent past the timeout: its assignment is
	// emptied; the two up nodes have 400m free each, so a waits beside d.
	down := where["a"]
	clock.Add(2500 * time.Millisecond)
	var others []string
	for _, id := range []string{"n1", "n2", "n3"} {
		if id != down {
			others = append(others, id)
		}
	}
	alive(others...)
	tr.Check()
	rep, _ = s.Round(context.Background())
	if got := w.of(down); len(got) != 0 {
		t.Fatalf("down node %s still assigned %v", down, got)
	}
	if len(rep.Pending) != 2 || !strings.Contains(rep.Pending[0].Reason, "1 down") {
		t.Fatalf("after %s went down (2 up nodes with 400m free each), pending: %+v", down, rep.Pending)
	}

	// Room appears: b is deleted; a and d have the same priority, a comes
	// first by id and takes b's place, d keeps waiting.
	s.DeleteTask("b")
	rep, _ = s.Round(context.Background())
	if len(rep.Pending) != 1 {
		t.Fatalf("after deleting b, pending: %+v, assignments %v", rep.Pending, rep.Assignments)
	}
	placed := 0
	for _, ids := range rep.Assignments.All() {
		placed += len(ids)
	}
	if placed != 2 {
		t.Fatalf("assignments %v, want 2 tasks placed", rep.Assignments)
	}
}

func TestRoundPreemptsLowerPriority(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, tr, w := newScheduler(t, clock, true)
	observe(t, tr, heartbeat("n1", clock.Now(), 1000, 1<<30, nil))
	s.PutTask(newTask("low", 800, 0, 0))
	if _, err := s.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.PutTask(newTask("high", 800, 0, 10))
	rep, err := s.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := w.of("n1"); !slices.Equal(got, []string{"high"}) {
		t.Fatalf("n1 runs %v, want high", got)
	}
	if len(rep.Pending) != 1 || rep.Pending[0].TaskID != "low" || !strings.Contains(rep.Pending[0].Reason, "preempted by high") {
		t.Fatalf("pending %+v", rep.Pending)
	}
	// A second node comes up: the evicted task runs there.
	observe(t, tr, heartbeat("n2", clock.Now(), 1000, 1<<30, nil))
	if rep, err = s.Round(context.Background()); err != nil || len(rep.Pending) != 0 || !slices.Equal(w.of("n2"), []string{"low"}) {
		t.Fatalf("after n2 came up: %+v, %v; n2 runs %v", rep, err, w.of("n2"))
	}
}

func TestRecoverKeepsRunningTasksInPlace(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, tr, w := newScheduler(t, clock, false)
	observe(t, tr, heartbeat("n1", clock.Now(), 1000, 1<<30, nil), heartbeat("n2", clock.Now(), 1000, 1<<30, nil))
	a, gone := newTask("a", 100, 0, 0), newTask("gone", 100, 0, 0)
	s.PutTask(a)
	// best-fit would pick n1 (first); the earlier scheduler had put a on n2.
	s.Recover(fleet.Assignment{Schema: 1, NodeID: "n2", Generation: 7, Tasks: []fleet.Task{a, gone}})
	rep, err := s.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Assignments.Of("n2"), []string{"a"}) || rep.Generation != 8 {
		t.Fatalf("after recovery: %+v", rep)
	}
	if got := w.of("n2"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("n2's assignment is rewritten without the deleted task: got %v", got)
	}
	w.mu.Lock()
	n1, ok := w.latest["n1"]
	w.mu.Unlock()
	if !ok || len(n1) != 0 {
		t.Fatalf("n1, seen for the first time, got %v, %v; want an empty assignment", n1, ok)
	}
}

// TestRunOverInMemoryBus runs the scheduler loop over watermill's in-memory
// pub/sub: heartbeats and tasks in, assignments out, a task deleted by a tombstone.
func TestRunOverInMemoryBus(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true, OutputChannelBuffer: 64}, watermill.NopLogger{})
	defer bus.Close()
	tracker, err := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	planner, _ := placement.NewPlanner("balanced", placement.Options{})
	s, err := New(Config{Planner: planner, Tracker: tracker, Writer: KafkaAssignments{Publisher: bus}})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(topic, meta, key string, v any) {
		t.Helper()
		var data []byte
		if v != nil {
			data, _ = json.Marshal(v)
		}
		m := message.NewMessage(watermill.NewUUID(), data)
		m.Metadata.Set(meta, key)
		if err := bus.Publish(topic, m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopBeats := make(chan struct{})
	beatsDone := make(chan struct{})
	go func() { // two nodes alive
		defer close(beatsDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, id := range []string{"n1", "n2"} {
				publish(fleet.HeartbeatTopic, fleet.MetaNode, id, heartbeat(id, time.Now(), 1000, 1<<30, nil))
			}
			select {
			case <-stopBeats:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stopBeats); <-beatsDone }()
	for _, id := range []string{"t1", "t2"} {
		publish(fleet.TaskTopic, fleet.MetaTask, id, newTask(id, 300, 0, 0))
	}
	rounds := make(chan Report, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, RunConfig{Subscriber: bus, Settle: 300 * time.Millisecond, Interval: 50 * time.Millisecond,
			OnRound: func(r Report, _ error) {
				select {
				case rounds <- r:
				default:
				}
			}})
	}()
	assignments, err := bus.Subscribe(ctx, fleet.AssignmentTopic)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string][]string{}
	waitAssigned := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !cond() {
			select {
			case m := <-assignments:
				a, err := fleet.DecodeAssignment(m.Payload)
				if err != nil {
					t.Fatal(err)
				}
				ids := []string{}
				for _, task := range a.Tasks {
					ids = append(ids, task.ID)
				}
				latest[a.NodeID] = ids
				m.Ack()
			case <-deadline:
				t.Fatalf("timed out waiting for %s; assignments %v", what, latest)
			}
		}
	}
	// balanced spreads the two tasks over the two nodes.
	waitAssigned("t1 and t2 on different nodes", func() bool {
		return len(latest["n1"]) == 1 && len(latest["n2"]) == 1
	})
	publish(fleet.TaskTopic, fleet.MetaTask, "t1", nil) // tombstone
	waitAssigned("t1 gone", func() bool {
		return len(latest["n1"])+len(latest["n2"]) == 1 && !slices.Contains(append(latest["n1"], latest["n2"]...), "t1")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRoundMovesTasksOfStoppingNodeAtOnce(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, tr, w := newScheduler(t, clock, false)
	observe(t, tr, heartbeat("n1", clock.Now(), 1000, 1<<30, nil))
	s.PutTask(newTask("a", 100, 0, 0))
	if _, err := s.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	observe(t, tr, heartbeat("n2", clock.Now(), 1000, 1<<30, nil))
	last := heartbeat("n1", clock.Now(), 1000, 1<<30, nil)
	last.Stopping = true
	observe(t, tr, last)
	if _, err := s.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.of("n1"); len(got) != 0 {
		t.Errorf("stopping n1 still runs %v", got)
	}
	if got := w.of("n2"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("n2 runs %v, want a moved there without waiting for the timeout", got)
	}
}

func TestRoundPlacesEvictedTaskElsewhere(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, tr, w := newScheduler(t, clock, true)
	observe(t, tr, heartbeat("n1", clock.Now(), 1000, 1<<30, map[string]string{"gpu": "yes"}),
		heartbeat("n2", clock.Now(), 1000, 1<<30, nil))
	s.PutTask(newTask("low", 800, 0, 0))
	if _, err := s.Round(context.Background()); err != nil || !slices.Equal(w.of("n1"), []string{"low"}) {
		t.Fatalf("low on n1 first (ties go to the first node): %v, n1 runs %v", err, w.of("n1"))
	}
	high := newTask("high", 800, 0, 10)
	high.Constraints.Labels = map[string]string{"gpu": "yes"}
	s.PutTask(high)
	if _, err := s.Round(context.Background()); err != nil || !slices.Equal(w.of("n1"), []string{"high"}) {
		t.Fatalf("high evicts low from n1: %v, n1 runs %v", err, w.of("n1"))
	}
	// Nothing else changes: the next round still places the evicted task.
	rep, err := s.Round(context.Background())
	if err != nil || !slices.Equal(w.of("n2"), []string{"low"}) || len(rep.Pending) != 0 {
		t.Fatalf("after the eviction: %v; n2 runs %v, pending %+v; want low on n2", err, w.of("n2"), rep.Pending)
	}
}
