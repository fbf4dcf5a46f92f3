package placement

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genNodeStatus draws a node with labels, maybe an accelerator, maybe marked
// down, and tasks that fit.
func genNodeStatus(t *rapid.T, id string) NodeStatus {
	labels := genLabels(t)
	n := NodeStatus{ID: id, Labels: labels, Version: rapid.SampledFrom([]string{"1", "2"}).Draw(t, "version"),
		Capacity: Resources{
			MilliCPU:    rapid.Int64Range(0, 4000).Draw(t, "cpu"),
			MemoryBytes: rapid.Int64Range(0, 4096).Draw(t, "mem") * mib,
			DiskBytes:   rapid.Int64Range(0, 100).Draw(t, "disk") * mib,
		},
		LastHeartbeat: t0.Add(-time.Duration(rapid.IntRange(0, 90).Draw(t, "age")) * time.Second),
		Down:          rapid.IntRange(0, 5).Draw(t, "down") == 0,
	}
	if rapid.IntRange(0, 3).Draw(t, "gpu") == 0 {
		n.AcceleratorKind, n.Capacity.Accelerators = "gpu", rapid.Int64Range(1, 2).Draw(t, "gpus")
	}
	n.Tasks = genFittingTasks(t, n)
	return n
}

func genFittingTasks(t *rapid.T, n NodeStatus) []Task {
	var tasks []Task
	free := n.Capacity
	for range rapid.IntRange(0, 4).Draw(t, "running") {
		rt := genTask(t, fmt.Sprintf("r%s.%d", n.ID, rapid.IntRange(0, 20).Draw(t, "task")), false)
		if rt.Constraints.Accelerator != "" && n.AcceleratorKind != "gpu" || slices.ContainsFunc(tasks, func(o Task) bool { return o.ID == rt.ID }) {
			continue
		}
		if free.Covers(rt.request()) {
			free = free.Sub(rt.request())
			tasks = append(tasks, rt)
		}
	}
	return tasks
}

// rebuild is the state NewState and UpsertNode build from the nodes in ID order.
func rebuild(t *rapid.T, nodes map[string]NodeStatus) *State {
	st := NewState()
	for _, id := range slices.Sorted(maps.Keys(nodes)) {
		if err := st.UpsertNode(nodes[id]); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestIncrementalStateEqualsRebuilt: a state kept up to date by
// UpsertNodeInIDOrder, SetDown and SetTasks, in any order of changes, equals
// the state rebuilt from its nodes in ID order, plans the same, and leaves
// every snapshot taken before a change as it was.
func TestIncrementalStateEqualsRebuilt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		st := NewState()
		nodes := map[string]NodeStatus{}
		type frozen struct {
			sn    *Snapshot
			nodes map[string]NodeStatus
		}
		var before []frozen
		// Enough nodes, added in any order, for insertions to move nodes across pages.
		all := make([]string, 200)
		for i := range all {
			all[i] = fmt.Sprintf("n%03d", i)
		}
		for _, id := range rapid.Permutation(all).Draw(t, "arrivals")[:rapid.IntRange(0, 150).Draw(t, "initial")] {
			n := genNodeStatus(t, id)
			if err := st.UpsertNodeInIDOrder(n); err != nil {
				t.Fatalf("add %s: %v", id, err)
			}
			nodes[id] = n
		}
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			ids := slices.Sorted(maps.Keys(nodes))
			switch op := rapid.IntRange(0, 3).Draw(t, "op"); {
			case op == 0 || len(ids) == 0: // a heartbeat, maybe from a new node
				id := fmt.Sprintf("n%03d", rapid.IntRange(0, 199).Draw(t, "node"))
				n := genNodeStatus(t, id)
				if err := st.UpsertNodeInIDOrder(n); err != nil {
					t.Fatalf("step %d: upsert %s: %v", step, id, err)
				}
				nodes[id] = n
			case op == 1:
				id := rapid.SampledFrom(ids).Draw(t, "down node")
				n := nodes[id]
				n.Down = !n.Down
				if err := st.SetDown(id, n.Down); err != nil {
					t.Fatal(err)
				}
				nodes[id] = n
			default:
				id := rapid.SampledFrom(ids).Draw(t, "tasks node")
				n := nodes[id]
				n.Tasks = genFittingTasks(t, n)
				if err := st.SetTasks(id, n.Tasks); err != nil {
					t.Fatal(err)
				}
				nodes[id] = n
			}
			if rapid.IntRange(0, 4).Draw(t, "freeze") == 0 {
				before = append(before, frozen{st.Snapshot(t0, time.Minute), maps.Clone(nodes)})
			}
		}
		got, want := st.Snapshot(t0, time.Minute), rebuild(t, nodes).Snapshot(t0, time.Minute)
		if d := got.Diff(want); d != "" {
			t.Fatalf("incremental state differs from the rebuilt one: %s", d)
		}
		for i, f := range before {
			if d := f.sn.Diff(rebuild(t, f.nodes).Snapshot(t0, time.Minute)); d != "" {
				t.Fatalf("snapshot %d changed after it was taken: %s", i, d)
			}
		}
		var tasks []Task
		for k := range rapid.IntRange(0, 20).Draw(t, "tasks") {
			tasks = append(tasks, genTask(t, fmt.Sprintf("t%d", k), true))
		}
		p, err := NewPlanner(rapid.SampledFrom(AlgorithmNames()).Draw(t, "algorithm"), Options{
			Seed: rapid.Uint64().Draw(t, "seed"), Preempt: rapid.Bool().Draw(t, "preempt"),
			FeasibleNodesToScore: rapid.IntRange(0, 80).Draw(t, "enough")})
		if err != nil {
			t.Fatal(err)
		}
		gotPlan, err := p.Plan(context.Background(), got, tasks)
		if err != nil {
			t.Fatal(err)
		}
		wantPlan, err := p.Plan(context.Background(), want, tasks)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotPlan, wantPlan) {
			t.Fatalf("plans differ:\nincremental %+v\nrebuilt     %+v", gotPlan, wantPlan)
		}
	})
}

// TestUpsertNodeInIDOrderAfterRemove: once a node is removed the slots have a
// hole, and adding in ID order is refused without changing the state.
func TestUpsertNodeInIDOrderAfterRemove(t *testing.T) {
	st := NewState()
	for _, id := range []string{"a", "c", "e"} {
		if err := st.UpsertNodeInIDOrder(NodeStatus{ID: id, LastHeartbeat: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RemoveNode("c"); err != nil {
		t.Fatal(err)
	}
	before := st.Snapshot(t0, 0)
	if err := st.UpsertNodeInIDOrder(NodeStatus{ID: "b", LastHeartbeat: t0}); !errors.Is(err, ErrNotInIDOrder) {
		t.Fatalf("add b after removing c: %v, want ErrNotInIDOrder", err)
	}
	if d := st.Snapshot(t0, 0).Diff(before); d != "" {
		t.Fatalf("a refused add changed the state: %s", d)
	}
}

// TestSetTasksRefusesOvercommit: tasks that do not fit, or an invalid one,
// leave the node as it was, and the error names the node or the task.
func TestSetTasksRefusesOvercommit(t *testing.T) {
	st := NewState()
	if err := st.UpsertNode(NodeStatus{ID: "a", Capacity: Resources{MilliCPU: 1000}, LastHeartbeat: t0}); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		tasks []Task
		want  string
	}{
		"too big":  {[]Task{task("x", 600, 0), task("y", 600, 0)}, "node (a): reserved and task requests"},
		"negative": {[]Task{task("x", -1, 0)}, "node (a).tasks[0] (x).request.milli_cpu"},
		"unknown":  {nil, ""},
	} {
		id := "a"
		if name == "unknown" {
			id = "zz"
		}
		err := st.SetTasks(id, tt.tasks)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tt.want)
		}
		if _, free, _, _ := st.Snapshot(t0, 0).Node("a"); free.MilliCPU != 1000 {
			t.Errorf("%s: free %v after a refused change", name, free)
		}
	}
}
