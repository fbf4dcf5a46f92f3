package placement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const mib = 1 << 20

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func node(id string, cpu, memMiB int64, labels map[string]string) NodeStatus {
	return NodeStatus{ID: id, Capacity: Resources{MilliCPU: cpu, MemoryBytes: memMiB * mib}, Labels: labels, LastHeartbeat: t0}
}

func task(id string, cpu, memMiB int64) Task {
	return Task{ID: id, Request: Resources{MilliCPU: cpu, MemoryBytes: memMiB * mib}}
}

func snapshotOf(t *testing.T, nodes ...NodeStatus) *Snapshot {
	t.Helper()
	st := NewState()
	for _, n := range nodes {
		if err := st.UpsertNode(n); err != nil {
			t.Fatal(err)
		}
	}
	return st.Snapshot(t0.Add(5*time.Second), 10*time.Second)
}

func TestPlanPlacesByAlgorithm(t *testing.T) {
	// a: roomy in CPU, b: tight, c: roomy in memory.
	nodes := []NodeStatus{node("a", 4000, 1024, nil), node("b", 1000, 512, nil), node("c", 2000, 4096, nil)}
	cases := []struct {
		name, algorithm string
		task            Task
		want            string
	}{
		{"greedy takes the most free relative to the request", Greedy, task("t", 500, 512), "c"}, // 8+2=10 vs 2+1=3 vs 4+8=12
		{"greedy with a CPU-only request looks at CPU", Greedy, task("t", 500, 0), "a"},
		{"best-fit takes the node left fullest", BestFit, task("t", 500, 512), "b"},
		{"balanced prefers free and even use", Balanced, task("t", 500, 512), "c"},
		{"dot-product takes the node whose free shares align with the request", DotProduct, task("t", 500, 512), "b"}, // 0.625, 1.5, 0.375
		{"norm-fit takes the smallest leftover", NormFit, task("t", 500, 512), "b"},                                   // 1.02, 0.25, 1.33
		{"most-allocated takes the most used after placement", MostAllocated, task("t", 500, 512), "b"},               // 0.31, 0.75, 0.19
		{"a memory-heavy task goes where memory is free", DotProduct, task("t", 250, 1024), "a"},                      // b lacks memory; 1.06 vs 0.38
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlanner(tc.algorithm, Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			plan, err := p.Plan(context.Background(), snapshotOf(t, nodes...), []Task{tc.task})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Placements) != 1 || plan.Placements[0].NodeID != tc.want {
				t.Fatalf("placements %+v, waiting %+v; want on %s", plan.Placements, plan.Waiting, tc.want)
			}
		})
	}
}

func TestPlanConstraints(t *testing.T) {
	withAcc := node("gpu1", 4000, 4096, map[string]string{LabelZone: "z1", LabelSite: "plant-b"})
	withAcc.AcceleratorKind, withAcc.Capacity.Accelerators = "gpu", 1
	nodes := []NodeStatus{
		node("n1", 4000, 4096, map[string]string{LabelZone: "z1", LabelSite: "plant-a", "arch": "arm64"}),
		node("n2", 4000, 4096, map[string]string{LabelZone: "z2", LabelSite: "plant-a", "arch": "amd64"}),
		withAcc,
	}
	replica := func(id string) Task {
		t := task(id, 100, 64)
		t.Group, t.Constraints.Spread.MaxPerNode = "dedupe", 1
		return t
	}
	cases := []struct {
		name  string
		tasks []Task
		want  map[string]string // task → node; "" waits
	}{
		{"required label", []Task{func() Task {
			t := task("arm", 100, 64)
			t.Constraints.RequiredLabels = map[string]string{"arch": "arm64"}
			return t
		}()}, map[string]string{"arm": "n1"}},
		{"unknown label waits", []Task{func() Task {
			t := task("riscv", 100, 64)
			t.Constraints.RequiredLabels = map[string]string{"arch": "riscv"}
			return t
		}()}, map[string]string{"riscv": ""}},
		{"accelerator", []Task{func() Task {
			t := task("det", 100, 64)
			t.Constraints.Accelerator = "gpu"
			return t
		}(), func() Task {
			t := task("det2", 100, 64)
			t.Constraints.Accelerator = "gpu"
			return t
		}()}, map[string]string{"det": "gpu1", "det2": ""}},
		{"anti-affinity", []Task{replica("r1"), replica("r2"), replica("r3"), replica("r4")},
			map[string]string{"r1": "n1", "r2": "n2", "r3": "gpu1", "r4": ""}},
		{"near site preferred while it fits", []Task{func() Task {
			t := task("s1", 100, 64)
			t.Constraints.NearSite = "plant-b"
			return t
		}(), func() Task {
			t := task("s2", 3950, 64)
			t.Constraints.NearSite = "plant-b"
			return t
		}()}, map[string]string{"s1": "gpu1", "s2": "n1"}},
		{"zone skew", []Task{func() Task {
			t := task("z1", 100, 64)
			t.Group, t.Constraints.Spread.ZoneMaxSkew = "g", 1
			t.Constraints.RequiredLabels = map[string]string{LabelZone: "z1"}
			return t
		}(), func() Task {
			t := task("z2", 100, 64)
			t.Group, t.Constraints.Spread.ZoneMaxSkew = "g", 1
			t.Constraints.NearSite = "plant-b" // would go to z1 if the skew allowed it
			return t
		}()}, map[string]string{"z1": "n1", "z2": "n2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := NewPlanner(Greedy, Options{})
			plan, err := p.Plan(context.Background(), snapshotOf(t, nodes...), tc.tasks)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, pl := range plan.Placements {
				got[pl.Task.ID] = pl.NodeID
			}
			for _, w := range plan.Waiting {
				got[w.Task.ID] = ""
				if !strings.HasPrefix(w.Reason, "0/3 nodes can take it: ") {
					t.Errorf("reason %q", w.Reason)
				}
			}
			for id, want := range tc.want {
				if got[id] != want {
					t.Errorf("%s on %q, want %q (plan %+v)", id, got[id], want, plan)
				}
			}
		})
	}
}

func TestPlanWaitsInsteadOfOvercommitting(t *testing.T) {
	p, _ := NewPlanner(BestFit, Options{})
	sn := snapshotOf(t, node("a", 1000, 1024, nil), node("b", 1000, 1024, nil))
	plan, err := p.Plan(context.Background(), sn, []Task{task("big", 1500, 100), task("m1", 600, 100), task("m2", 600, 100), task("m3", 600, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Placements) != 2 || len(plan.Waiting) != 2 {
		t.Fatalf("plan %+v", plan)
	}
	if want := "0/2 nodes can take it: 2 insufficient cpu"; plan.Waiting[0].Reason != want {
		t.Errorf("reason %q, want %q", plan.Waiting[0].Reason, want)
	}
}

func TestPlanPreemptsLowerPriority(t *testing.T) {
	n := node("a", 1000, 1024, nil)
	low, mid := task("low", 600, 100), task("mid", 300, 100)
	mid.Priority = 5
	n.Tasks = []Task{low, mid}
	urgent := task("urgent", 500, 100)
	urgent.Priority = 10
	for _, preempt := range []bool{false, true} {
		p, _ := NewPlanner(Greedy, Options{Preempt: preempt})
		plan, err := p.Plan(context.Background(), snapshotOf(t, n), []Task{urgent})
		if err != nil {
			t.Fatal(err)
		}
		if !preempt {
			if len(plan.Waiting) != 1 || len(plan.Preemptions) != 0 {
				t.Fatalf("without preemption: %+v", plan)
			}
			continue
		}
		if len(plan.Preemptions) != 1 || plan.Preemptions[0].Task.ID != "low" || len(plan.Placements) != 1 {
			t.Fatalf("with preemption: %+v", plan)
		}
	}
}

func TestPlanMovesTasksOffDownNodes(t *testing.T) {
	dead := node("dead", 1000, 1024, nil)
	dead.Tasks = []Task{task("t1", 500, 100), task("t2", 400, 100)}
	alive := node("alive", 1000, 1024, nil)
	alive.Tasks = []Task{task("t0", 400, 100)}
	dead.LastHeartbeat = t0.Add(-time.Minute)
	c, err := NewMemoryCluster([]NodeStatus{dead, alive}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return t0 }
	p, _ := NewPlanner(Greedy, Options{})
	plan, err := Schedule(context.Background(), c, p, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Placements) != 1 || plan.Placements[0].From != "dead" || plan.Placements[0].NodeID != "alive" {
		t.Fatalf("placements %+v", plan.Placements)
	}
	if len(plan.Waiting) != 1 || plan.Waiting[0].From != "dead" || !strings.Contains(plan.Waiting[0].Reason, "1 down") {
		t.Fatalf("waiting %+v", plan.Waiting)
	}
	sn, _ := c.Snapshot(context.Background())
	if orphans := sn.Orphans(); len(orphans) != 0 {
		t.Fatalf("still on the down node after commit: %+v", orphans)
	}
}

func TestPlanRejectsInvalidTasks(t *testing.T) {
	bad := task("x", -1, 0)
	cases := []struct {
		name  string
		tasks []Task
		want  string
	}{
		{"negative request", []Task{bad}, "tasks[0] (x).request.milli_cpu: -1 is negative"},
		{"empty id", []Task{{}}, "tasks[0].id: empty"},
		{"duplicate id", []Task{task("a", 1, 1), task("a", 1, 1)}, "tasks[1] (a): same id as tasks[0]"},
		{"spread without group", []Task{{ID: "s", Constraints: Constraints{Spread: Spread{MaxPerNode: 1}}}}, "tasks[0] (s).group"},
	}
	p, _ := NewPlanner(Greedy, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Plan(context.Background(), snapshotOf(t, node("a", 1000, 1000, nil)), tc.tasks)
			if !errors.Is(err, ErrInvalidTask) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestApplyRejectsStalePlan(t *testing.T) {
	st := NewState()
	if err := st.UpsertNode(node("a", 1000, 1024, nil)); err != nil {
		t.Fatal(err)
	}
	p, _ := NewPlanner(Greedy, Options{})
	sn := st.Snapshot(t0, 0)
	plan, err := p.Plan(context.Background(), sn, []Task{task("t", 800, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(plan); err != nil {
		t.Fatal(err)
	}
	plan2, _ := p.Plan(context.Background(), sn, []Task{task("u", 800, 100)}) // from the old snapshot
	if err := st.Apply(plan2); !errors.Is(err, ErrStalePlan) {
		t.Fatalf("apply of a stale plan: %v", err)
	}
	if _, free, _, _ := st.Snapshot(t0, 0).Node("a"); free.MilliCPU != 200 {
		t.Fatalf("free cpu %d after the failed apply, want 200", free.MilliCPU)
	}
	if _, free, _, _ := sn.Node("a"); free.MilliCPU != 1000 {
		t.Fatalf("the old snapshot changed: free cpu %d", free.MilliCPU)
	}
}

func TestPlanStopsOnCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := NewPlanner(Greedy, Options{})
	if _, err := p.Plan(ctx, snapshotOf(t, node("a", 1, 1, nil)), []Task{task("t", 1, 1)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
}

func TestAdaptiveNodesToScore(t *testing.T) {
	for _, tc := range []struct{ nodes, want int }{{10, 100}, {100, 100}, {1000, 420}, {5000, 500}, {10000, 500}} {
		if got := AdaptiveNodesToScore(tc.nodes); got != tc.want {
			t.Errorf("AdaptiveNodesToScore(%d) = %d, want %d", tc.nodes, got, tc.want)
		}
	}
}

// Many nodes across pages: sampled and exact plans both place every task that
// fits, and the exact one picks what a plain scan would.
func TestPlanAcrossPages(t *testing.T) {
	var nodes []NodeStatus
	for i := range 3*pageSize + 5 {
		nodes = append(nodes, node(fmt.Sprintf("n%03d", i), int64(1000+i), 1024, nil))
	}
	sn := snapshotOf(t, nodes...)
	for _, enough := range []int{0, 1, 10} {
		p, _ := NewPlanner(Greedy, Options{FeasibleNodesToScore: enough})
		plan, err := p.Plan(context.Background(), sn, []Task{task("t", 1100, 10), task("huge", 5000, 10)})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Placements) != 1 || len(plan.Waiting) != 1 {
			t.Fatalf("enough=%d: %+v", enough, plan)
		}
		if want := fmt.Sprintf("0/%d nodes can take it: %d insufficient cpu", len(nodes), len(nodes)); plan.Waiting[0].Reason != want {
			t.Errorf("enough=%d: reason %q, want %q", enough, plan.Waiting[0].Reason, want)
		}
		if enough == 0 && plan.Placements[0].NodeID != nodes[len(nodes)-1].ID {
			t.Errorf("exact greedy took %s, want the node with the most CPU", plan.Placements[0].NodeID)
		}
	}
}
