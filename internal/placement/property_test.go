package placement

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genCluster draws nodes (some down, some with tasks, labels and accelerators)
// and pending tasks with random constraints. skew allows ZoneMaxSkew.
func genCluster(t *rapid.T, skew bool) (*Snapshot, []Task) {
	st := NewState()
	nNodes := rapid.IntRange(1, 12).Draw(t, "nodes")
	for i := range nNodes {
		labels := genLabels(t)
		n := NodeStatus{
			ID: fmt.Sprintf("n%d", i), Labels: labels,
			Capacity: Resources{
				MilliCPU:    rapid.Int64Range(0, 4000).Draw(t, "cpu"),
				MemoryBytes: rapid.Int64Range(0, 4096).Draw(t, "mem") * mib,
				DiskBytes:   rapid.Int64Range(0, 100).Draw(t, "disk") * mib,
			},
			LastHeartbeat: t0,
		}
		if rapid.IntRange(0, 4).Draw(t, "down") == 0 {
			n.LastHeartbeat = t0.Add(-time.Hour)
		}
		if rapid.IntRange(0, 3).Draw(t, "gpu") == 0 {
			n.AcceleratorKind, n.Capacity.Accelerators = "gpu", rapid.Int64Range(1, 2).Draw(t, "gpus")
		}
		free := n.Capacity
		for k := range rapid.IntRange(0, 4).Draw(t, "running") {
			rt := genTask(t, fmt.Sprintf("r%d.%d", i, k), false)
			if rt.Constraints.Accelerator != "" && n.AcceleratorKind != "gpu" {
				continue
			}
			if free.Covers(rt.request()) {
				free = free.Sub(rt.request())
				n.Tasks = append(n.Tasks, rt)
			}
		}
		if err := st.UpsertNode(n); err != nil {
			t.Fatal(err)
		}
	}
	var tasks []Task
	for k := range rapid.IntRange(0, 20).Draw(t, "tasks") {
		tasks = append(tasks, genTask(t, fmt.Sprintf("t%d", k), skew))
	}
	return st.Snapshot(t0, time.Minute), tasks
}

func genTask(t *rapid.T, id string, skew bool) Task {
	tk := Task{
		ID: id, Priority: rapid.IntRange(0, 3).Draw(t, "priority"),
		Request: Resources{
			MilliCPU:    rapid.Int64Range(0, 2500).Draw(t, "tcpu"),
			MemoryBytes: rapid.Int64Range(0, 2500).Draw(t, "tmem") * mib,
			DiskBytes:   rapid.Int64Range(0, 40).Draw(t, "tdisk") * mib,
		},
	}
	if rapid.IntRange(0, 4).Draw(t, "needs-arm") == 0 {
		tk.Constraints.RequiredLabels = map[string]string{"arch": "arm64"}
	}
	if rapid.IntRange(0, 4).Draw(t, "needs-gpu") == 0 {
		tk.Constraints.Accelerator = "gpu"
	}
	if rapid.Bool().Draw(t, "near") {
		tk.Constraints.NearSite = "s1"
	}
	if g := rapid.IntRange(0, 2).Draw(t, "group"); g > 0 {
		tk.Group = fmt.Sprintf("g%d", g)
		tk.Constraints.Spread.MaxPerNode = rapid.IntRange(0, 2).Draw(t, "max-per-node")
		if skew {
			tk.Constraints.Spread.ZoneMaxSkew = rapid.IntRange(0, 2).Draw(t, "skew")
		}
	}
	return tk
}

// nodeView is everything the naive checks need about one node.
type nodeView struct {
	status NodeStatus
	free   Resources
	up     bool
}

func views(t *rapid.T, sn *Snapshot) map[string]*nodeView {
	out := map[string]*nodeView{}
	for _, id := range sn.NodeIDs() {
		st, free, up, err := sn.Node(id)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = &nodeView{st, free, up}
	}
	return out
}

func groupCountOn(v *nodeView, group string) int {
	n := 0
	for _, r := range v.status.Tasks {
		if r.Group == group {
			n++
		}
	}
	return n
}

// naiveFeasible checks every constraint but zone skew, written plainly.
func naiveFeasible(v *nodeView, tk Task) bool {
	if !v.up || !v.free.Covers(tk.request()) {
		return false
	}
	for k, val := range tk.Constraints.RequiredLabels {
		if v.status.Labels[k] != val {
			return false
		}
	}
	if a := tk.Constraints.Accelerator; a != "" && v.status.AcceleratorKind != a {
		return false
	}
	if m := tk.Constraints.Spread.MaxPerNode; m > 0 && groupCountOn(v, tk.Group) >= m {
		return false
	}
	return true
}

func plan(t *rapid.T, algorithm string, opts Options, sn *Snapshot, tasks []Task) *Plan {
	p, err := NewPlanner(algorithm, opts)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.Plan(context.Background(), sn, tasks)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// Every algorithm: applying the plan to the snapshot it came from succeeds and
// leaves every node within capacity, and every placement honours the task's
// constraints at the moment it was made (replayed in order).
func TestPropertyCapacityAndConstraints(t *testing.T) {
	for _, alg := range AlgorithmNames() {
		t.Run(alg, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				sn, tasks := genCluster(t, true)
				preempt := rapid.Bool().Draw(t, "preempt")
				sample := rapid.IntRange(0, 3).Draw(t, "feasible-nodes-to-score")
				pl := plan(t, alg, Options{Seed: 7, Preempt: preempt, FeasibleNodesToScore: sample}, sn, tasks)
				st := sn.st.clone()
				if err := st.Apply(pl); err != nil {
					t.Fatalf("apply of a fresh plan: %v", err)
				}
				after := st.Snapshot(t0, time.Minute)
				for id, v := range views(t, after) {
					if !v.free.Covers(Resources{}) {
						t.Fatalf("node %s overcommitted: free %v", id, v.free)
					}
					used := Resources{}
					for _, r := range v.status.Tasks {
						used = used.Add(r.request())
					}
					if !v.status.Capacity.Covers(used) {
						t.Fatalf("node %s: tasks use %v of %v", id, used, v.status.Capacity)
					}
				}
				// Replay: remove orphans and victims, then place in order.
				vs := views(t, sn)
				for _, o := range sn.Orphans() {
					removeTask(vs[o.NodeID], o.Task.ID)
				}
				for _, p := range pl.Placements {
					for _, pre := range pl.Preemptions {
						if pre.For == p.Task.ID {
							removeTask(vs[pre.NodeID], pre.Task.ID)
						}
					}
					v := vs[p.NodeID]
					if !naiveFeasible(v, p.Task) {
						t.Fatalf("%s placed on %s, which does not satisfy it: %+v", p.Task.ID, p.NodeID, v)
					}
					if s := p.Task.Constraints.Spread.ZoneMaxSkew; s > 0 && !skewAllows(vs, p.Task, v) {
						t.Fatalf("%s placed on %s breaks zone skew %d", p.Task.ID, p.NodeID, s)
					}
					v.free = v.free.Sub(p.Task.request())
					v.status.Tasks = append(v.status.Tasks, p.Task)
				}
			})
		})
	}
}

func removeTask(v *nodeView, id string) {
	for i, r := range v.status.Tasks {
		if r.ID == id {
			v.free = v.free.Add(r.request())
			v.status.Tasks = append(v.status.Tasks[:i:i], v.status.Tasks[i+1:]...)
			return
		}
	}
}

// skewAllows: over the zones of up nodes matching the task's labels and
// accelerator kind, count(zone of v)+1-min(count) <= skew.
func skewAllows(vs map[string]*nodeView, tk Task, v *nodeView) bool {
	counts := map[string]int{}
	for _, o := range vs {
		z, ok := o.status.Labels[LabelZone]
		if !ok || !o.up {
			continue
		}
		match := true
		for k, val := range tk.Constraints.RequiredLabels {
			match = match && o.status.Labels[k] == val
		}
		if a := tk.Constraints.Accelerator; a != "" && o.status.AcceleratorKind != a {
			match = false
		}
		if match {
			counts[z] += groupCountOn(o, tk.Group)
		}
	}
	lowest := -1
	for _, c := range counts {
		if lowest < 0 || c < lowest {
			lowest = c
		}
	}
	z, ok := v.status.Labels[LabelZone]
	return ok && counts[z]+1-lowest <= tk.Constraints.Spread.ZoneMaxSkew
}

// Every algorithm, sampled or not, leaves a task waiting only if no single
// node could take it: resources only shrink during a plan, so checking the
// final state suffices.
func TestPropertyPlacesWhatFits(t *testing.T) {
	for _, alg := range AlgorithmNames() {
		t.Run(alg, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				sn, tasks := genCluster(t, false)
				pl := plan(t, alg, Options{FeasibleNodesToScore: rapid.IntRange(0, 3).Draw(t, "feasible-nodes-to-score")}, sn, tasks)
				st := sn.st.clone()
				if err := st.Apply(pl); err != nil {
					t.Fatal(err)
				}
				for _, w := range pl.Waiting {
					for id, v := range views(t, st.Snapshot(t0, time.Minute)) {
						if naiveFeasible(v, w.Task) {
							t.Fatalf("%s waits (%s) but %s could take it: %+v", w.Task.ID, w.Reason, id, v)
						}
					}
				}
			})
		})
	}
}

// The same snapshot, tasks and seed give the same plan, for every algorithm.
func TestPropertyDeterministicWithSeed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sn, tasks := genCluster(t, true)
		opts := Options{Seed: rapid.Uint64().Draw(t, "seed"), Preempt: true, FeasibleNodesToScore: rapid.IntRange(0, 3).Draw(t, "feasible-nodes-to-score")}
		for _, alg := range AlgorithmNames() {
			a, b := plan(t, alg, opts, sn, tasks), plan(t, alg, opts, sn, tasks)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: two plans differ:\n%+v\n%+v", alg, a, b)
			}
		}
	})
}

// Greedy picks exactly the node the article's sort-then-first-fit code picks.
func TestPropertyGreedyIsTheArticles(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		st := NewState()
		var free []Resources
		var ids []string
		for i := range rapid.IntRange(1, 15).Draw(t, "nodes") {
			n := NodeStatus{ID: fmt.Sprintf("n%d", i), Capacity: Resources{
				MilliCPU:    rapid.Int64Range(0, 8).Draw(t, "cpu") * 500,
				MemoryBytes: rapid.Int64Range(0, 8).Draw(t, "mem") * 512 * mib,
			}}
			if err := st.UpsertNode(n); err != nil {
				t.Fatal(err)
			}
			free, ids = append(free, n.Capacity), append(ids, n.ID)
		}
		req := Resources{MilliCPU: rapid.Int64Range(1, 8).Draw(t, "tcpu") * 250, MemoryBytes: rapid.Int64Range(1, 8).Draw(t, "tmem") * 256 * mib}
		pl := plan(t, Greedy, Options{}, st.Snapshot(t0, 0), []Task{{ID: "t", Request: req}})
		want := ArticleGreedy(free, req)
		switch {
		case want < 0 && len(pl.Placements) != 0:
			t.Fatalf("article: no node; planner: %s", pl.Placements[0].NodeID)
		case want >= 0 && (len(pl.Placements) != 1 || pl.Placements[0].NodeID != ids[want]):
			t.Fatalf("article: %s; planner: %+v", ids[want], pl)
		}
	})
}

// genLabels draws a node's labels: maybe a zone and a site, maybe arm64.
func genLabels(t *rapid.T) map[string]string {
	labels := map[string]string{}
	if z := rapid.IntRange(0, 3).Draw(t, "zone"); z > 0 {
		labels[LabelZone] = fmt.Sprintf("z%d", z)
	}
	if s := rapid.IntRange(0, 2).Draw(t, "site"); s > 0 {
		labels[LabelSite] = fmt.Sprintf("s%d", s)
	}
	if rapid.Bool().Draw(t, "arm") {
		labels["arch"] = "arm64"
	}
	return labels
}
