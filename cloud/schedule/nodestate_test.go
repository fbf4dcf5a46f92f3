package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/placement"
)

// failingWriter records like recordingWriter and fails the writes to the
// nodes in fail.
type failingWriter struct {
	recordingWriter
	mu   sync.Mutex
	fail map[string]bool
}

var errWriteRefused = errors.New("write refused")

func (w *failingWriter) WriteAssignment(ctx context.Context, a fleet.Assignment) error {
	w.mu.Lock()
	fail := w.fail[a.NodeID]
	w.mu.Unlock()
	if fail {
		return errWriteRefused
	}
	return w.recordingWriter.WriteAssignment(ctx, a)
}

// rebuiltSnapshot is the state a round plans on, built from scratch and
// plainly: every node the tracker knows, in ID order, down as the tracker
// says, with the tasks assigned to it, highest priority first, then by id.
func rebuiltSnapshot(t *rapid.T, s *Scheduler, now time.Time) *placement.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	byNode := map[string][]placement.Task{}
	for _, id := range slices.Sorted(maps.Keys(s.assigned)) {
		task := s.tasks[id]
		byNode[s.assigned[id]] = append(byNode[s.assigned[id]], task.Placement())
	}
	st := placement.NewState()
	for _, v := range s.cfg.Tracker.Nodes(now) {
		hb := v.Heartbeat
		status := placement.NodeStatus{ID: hb.NodeID, Labels: hb.Labels, Version: hb.Version, Down: !v.Up,
			Capacity: placement.Resources{MilliCPU: hb.Capacity.MilliCPU, MemoryBytes: hb.Capacity.MemoryBytes,
				DiskBytes: hb.Capacity.DiskBytes, Accelerators: hb.Capacity.Accelerators}}
		if len(hb.Accelerators) > 0 {
			status.AcceleratorKind = hb.Accelerators[0].Kind
		}
		status.Tasks = byNode[hb.NodeID]
		slices.SortStableFunc(status.Tasks, func(a, b placement.Task) int { return cmp.Compare(b.Priority, a.Priority) })
		if err := st.UpsertNode(status); err != nil {
			t.Fatalf("rebuild: %v", err)
		}
	}
	return st.Snapshot(now, 0)
}

func keptSnapshot(s *Scheduler, now time.Time) *placement.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Snapshot(now, 0)
}

func genFleetTask(t *rapid.T, id string) fleet.Task {
	task := fleet.Task{Schema: 1, ID: id, Pipeline: rapid.SampledFrom([]string{"p", "q"}).Draw(t, "pipeline"),
		Priority: rapid.IntRange(0, 2).Draw(t, "priority"),
		Resources: fleet.Resources{MilliCPU: rapid.Int64Range(0, 6).Draw(t, "cpu") * 250,
			MemoryBytes: rapid.Int64Range(0, 4).Draw(t, "mem") << 28}}
	if rapid.IntRange(0, 3).Draw(t, "arm") == 0 {
		task.Constraints.Labels = map[string]string{"arch": "arm64"}
	}
	if rapid.IntRange(0, 3).Draw(t, "npu") == 0 {
		task.Constraints.Accelerator = "npu"
	}
	if rapid.Bool().Draw(t, "near") {
		task.Constraints.NearSite = "s1"
	}
	if g := rapid.IntRange(0, 2).Draw(t, "group"); g > 0 {
		task.Group = fmt.Sprintf("g%d", g)
		task.Constraints.Spread = fleet.Spread{MaxPerNode: rapid.IntRange(0, 2).Draw(t, "max-per-node"),
			ZoneMaxSkew: rapid.IntRange(0, 2).Draw(t, "skew")}
	}
	return task
}

func genHeartbeat(t *rapid.T, id string, at time.Time) fleet.Heartbeat {
	labels := map[string]string{"zone": rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "zone")}
	if rapid.Bool().Draw(t, "site") {
		labels["site"] = "s1"
	}
	if rapid.Bool().Draw(t, "arm") {
		labels["arch"] = "arm64"
	}
	hb := heartbeat(id, at, rapid.Int64Range(1, 4).Draw(t, "cpu")*1000, rapid.Int64Range(1, 4).Draw(t, "mem")<<30, labels)
	if rapid.IntRange(0, 3).Draw(t, "npu") == 0 {
		hb.Capacity.Accelerators = rapid.Int64Range(1, 2).Draw(t, "npus")
		hb.Accelerators = []fleet.Accelerator{{Kind: "npu", Count: hb.Capacity.Accelerators}}
	}
	hb.Stopping = rapid.IntRange(0, 9).Draw(t, "stopping") == 0
	return hb
}

// TestKeptStateEqualsRebuilt: whatever happens between rounds (heartbeats
// from new nodes, with other capacity or labels, nodes stopping or going
// silent and coming back, tasks submitted, changed and deleted, assignments
// recovered, writes failing), after every round the state the scheduler keeps
// equals the one rebuilt from scratch, plans over the two are equal, and the
// scheduler decides and writes exactly what one rebuilding its state in every
// round does.
func TestKeptStateEqualsRebuilt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		tracker, err := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: 2 * time.Second, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		opts := placement.Options{Seed: rapid.Uint64().Draw(t, "seed"), Preempt: rapid.Bool().Draw(t, "preempt"),
			FeasibleNodesToScore: rapid.SampledFrom([]int{0, 1, 3}).Draw(t, "enough")}
		planner, err := placement.NewPlanner(rapid.SampledFrom(placement.AlgorithmNames()).Draw(t, "algorithm"), opts)
		if err != nil {
			t.Fatal(err)
		}
		newSched := func() (*Scheduler, *failingWriter) {
			w := &failingWriter{fail: map[string]bool{}}
			s, err := New(Config{Planner: planner, Tracker: tracker, Writer: w, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			return s, w
		}
		kept, keptW := newSched()
		rebuilt, rebuiltW := newSched()
		both := func(f func(s *Scheduler)) { f(kept); f(rebuilt) }
		nodeID := func() string { return fmt.Sprintf("n%02d", rapid.IntRange(0, 11).Draw(t, "node")) }
		taskID := func() string { return fmt.Sprintf("t%02d", rapid.IntRange(0, 24).Draw(t, "task")) }
		for step := range rapid.IntRange(1, 80).Draw(t, "steps") {
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0, 1: // heartbeats
				for range rapid.IntRange(1, 4).Draw(t, "heartbeats") {
					if err := tracker.Observe(genHeartbeat(t, nodeID(), clock.Now())); err != nil {
						t.Fatal(err)
					}
				}
			case 2: // time passes; the tracker may notice silent nodes
				clock.Add(time.Duration(rapid.IntRange(1, 6).Draw(t, "half seconds")) * 500 * time.Millisecond)
				if rapid.Bool().Draw(t, "check") {
					tracker.Check()
				}
			case 3, 4:
				task := genFleetTask(t, taskID())
				both(func(s *Scheduler) { s.PutTask(task) })
			case 5:
				id := taskID()
				both(func(s *Scheduler) { s.DeleteTask(id) })
			case 6:
				if rapid.IntRange(0, 3).Draw(t, "recover") == 0 {
					a := fleet.Assignment{NodeID: nodeID(), Generation: uint64(rapid.IntRange(0, 9).Draw(t, "generation"))}
					for range rapid.IntRange(0, 3).Draw(t, "recovered") {
						a.Tasks = append(a.Tasks, fleet.Task{ID: taskID()})
					}
					both(func(s *Scheduler) { s.Recover(a) })
				}
			default:
				fail := map[string]bool{}
				if rapid.IntRange(0, 4).Draw(t, "fail writes") == 0 {
					fail[nodeID()] = true
				}
				keptW.fail, rebuiltW.fail = fail, fail
				rebuilt.mu.Lock()
				rebuilt.state = nil // rebuilt from scratch in this round
				rebuilt.mu.Unlock()
				gotRep, gotErr := kept.Round(context.Background())
				wantRep, wantErr := rebuilt.Round(context.Background())
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(gotRep, wantRep) {
					t.Fatalf("step %d: round with the kept state:\n%+v, %v\nwith a rebuilt state:\n%+v, %v", step, gotRep, gotErr, wantRep, wantErr)
				}
				if !reflect.DeepEqual(keptW.all, rebuiltW.all) || !reflect.DeepEqual(keptW.statuses, rebuiltW.statuses) {
					t.Fatalf("step %d: writes differ:\n%+v\n%+v", step, keptW.all, rebuiltW.all)
				}
				if gotErr != nil && !errors.Is(gotErr, errWriteRefused) {
					t.Fatalf("step %d: %v", step, gotErr)
				}
				if !gotRep.Planned {
					continue // the state is the one of the last round that planned
				}
				now := clock.Now()
				got, want := keptSnapshot(kept, now), rebuiltSnapshot(t, kept, now)
				if d := got.Diff(want); d != "" {
					t.Fatalf("step %d: kept state differs from the rebuilt one: %s", step, d)
				}
				var extra []placement.Task
				for k := range rapid.IntRange(0, 6).Draw(t, "extra tasks") {
					task := genFleetTask(t, fmt.Sprintf("x%d", k))
					extra = append(extra, task.Placement())
				}
				gotPlan, err1 := planner.Plan(context.Background(), got, extra)
				wantPlan, err2 := planner.Plan(context.Background(), want, extra)
				if err1 != nil || err2 != nil || !reflect.DeepEqual(gotPlan, wantPlan) {
					t.Fatalf("step %d: plans differ:\n%+v, %v\n%+v, %v", step, gotPlan, err1, wantPlan, err2)
				}
			}
		}
	})
}
