package placement

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestUpsertNodeWithTasks: a node reported with its tasks has the same free
// resources and group counts as one whose tasks were placed one by one.
func TestUpsertNodeWithTasks(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	capacity := Resources{MilliCPU: 4000, MemoryBytes: 4 << 30}
	tasks := []Task{
		{ID: "a", Group: "g", Request: Resources{MilliCPU: 1000}},
		{ID: "b", Group: "g", Request: Resources{MilliCPU: 500, MemoryBytes: 1 << 30}},
		{ID: "c", Request: Resources{MilliCPU: 250}},
	}
	reported := NewState()
	if err := reported.UpsertNode(NodeStatus{ID: "n1", Capacity: capacity, Tasks: tasks, LastHeartbeat: now}); err != nil {
		t.Fatal(err)
	}
	placed := NewState()
	if err := placed.UpsertNode(NodeStatus{ID: "n1", Capacity: capacity, LastHeartbeat: now}); err != nil {
		t.Fatal(err)
	}
	plan := &Plan{}
	for _, task := range tasks {
		plan.Placements = append(plan.Placements, Placement{Task: task, NodeID: "n1"})
	}
	if err := placed.Apply(plan); err != nil {
		t.Fatal(err)
	}
	p, _ := NewPlanner("greedy", Options{})
	third := Task{ID: "d", Group: "g", Constraints: Constraints{Spread: Spread{MaxPerNode: 2}}}
	for name, st := range map[string]*State{"reported": reported, "placed": placed} {
		sn := st.Snapshot(now, time.Minute)
		_, free, up, err := sn.Node("n1")
		if err != nil || !up || free != (Resources{MilliCPU: 2250, MemoryBytes: 3 << 30}) {
			t.Errorf("%s: free %v, up %v, %v", name, free, up, err)
		}
		res, err := p.Plan(context.Background(), sn, []Task{third})
		if err != nil || len(res.Waiting) != 1 || !strings.Contains(res.Waiting[0].Reason, "group at max per node") {
			t.Errorf("%s: a third task of group g with max 2 per node: %+v, %v", name, res, err)
		}
		if err := st.Finish("n1", "a"); err != nil {
			t.Errorf("%s: finish a: %v", name, err)
		}
		res, _ = p.Plan(context.Background(), st.Snapshot(now, time.Minute), []Task{third})
		if len(res.Placements) != 1 {
			t.Errorf("%s: after a finished, the third task of g: %+v", name, res)
		}
	}
}
