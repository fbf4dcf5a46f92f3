package placement

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// viaInterface hides a built-in scorer's type, so the planner scores through
// the Scorer interface (scan) instead of inline (scanBuiltin).
type viaInterface struct{ Scorer }

// genPagedCluster draws up to five pages of nodes whose capacities and free
// resources come from few values, so that scores tie often, some of them
// down, with labels, sites, accelerators and running tasks, and pending tasks
// with random constraints.
func genPagedCluster(t *rapid.T) (*Snapshot, []Task) {
	st := NewState()
	nNodes := rapid.IntRange(1, 5*pageSize).Draw(t, "nodes")
	cpus := []int64{0, 1000, 2000, 4000, 16000}
	mems := []int64{0, 1024, 2048, 4096, 16384}
	for i := range nNodes {
		labels := genLabels(t)
		n := NodeStatus{
			ID: fmt.Sprintf("n%04d", i), Labels: labels,
			Capacity: Resources{
				MilliCPU:    rapid.SampledFrom(cpus).Draw(t, "cpu"),
				MemoryBytes: rapid.SampledFrom(mems).Draw(t, "mem") * mib,
				DiskBytes:   rapid.Int64Range(0, 2).Draw(t, "disk") * 50 * mib,
			},
			LastHeartbeat: t0,
		}
		if rapid.IntRange(0, 9).Draw(t, "down") == 0 {
			n.LastHeartbeat = t0.Add(-time.Hour)
		}
		if rapid.IntRange(0, 5).Draw(t, "marked-down") == 0 {
			n.Down = true
		}
		if rapid.IntRange(0, 3).Draw(t, "gpu") == 0 {
			n.AcceleratorKind, n.Capacity.Accelerators = "gpu", rapid.Int64Range(1, 2).Draw(t, "gpus")
		}
		free := n.Capacity
		for k := range rapid.IntRange(0, 3).Draw(t, "running") {
			rt := Task{
				ID: fmt.Sprintf("r%d.%d", i, k), Priority: rapid.IntRange(0, 3).Draw(t, "rpriority"),
				Request: Resources{MilliCPU: rapid.Int64Range(0, 4).Draw(t, "rcpu") * 500, MemoryBytes: rapid.Int64Range(0, 4).Draw(t, "rmem") * 512 * mib},
			}
			if g := rapid.IntRange(0, 2).Draw(t, "rgroup"); g > 0 {
				rt.Group = fmt.Sprintf("g%d", g)
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
	for k := range rapid.IntRange(0, 8).Draw(t, "tasks") {
		tk := genTask(t, fmt.Sprintf("t%d", k), true)
		if rapid.Bool().Draw(t, "round") { // round requests tie more often
			tk.Request.MilliCPU, tk.Request.MemoryBytes = tk.Request.MilliCPU/500*500, tk.Request.MemoryBytes/(512*mib)*512*mib
		}
		tasks = append(tasks, tk)
	}
	return st.Snapshot(t0, time.Minute), tasks
}

// The planner's inline scan of the built-in scorers gives exactly the plan of
// the general scan through the Scorer interface: the same nodes, the same
// tie-breaking, the same random draws, the same waiting reasons and
// preemptions, for every algorithm, exact or sampled.
func TestPropertyInlineScanEqualsInterfaceScan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sn, tasks := genPagedCluster(t)
		opts := Options{
			Seed:                 rapid.Uint64().Draw(t, "seed"),
			Preempt:              rapid.Bool().Draw(t, "preempt"),
			FeasibleNodesToScore: rapid.SampledFrom([]int{0, 0, 1, 5, 70}).Draw(t, "feasible-nodes-to-score"),
		}
		for _, name := range AlgorithmNames() {
			fast, err := NewPlanner(name, opts)
			if err != nil {
				t.Fatal(err)
			}
			general := &Planner{Algorithm: Algorithm{Name: name, Scorer: viaInterface{fast.Algorithm.Scorer}}, Options: opts}
			if builtinKind(&fast.Algorithm) == scoreByInterface || builtinKind(&general.Algorithm) != scoreByInterface {
				t.Fatalf("%s: the inline scan is not the one under test", name)
			}
			a, err := fast.Plan(context.Background(), sn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			b, err := general.Plan(context.Background(), sn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: inline and interface scans differ:\ninline:    %+v\ninterface: %+v", name, a, b)
			}
		}
	})
}

// Each built-in scorer's Score equals the function the inline scan calls, bit
// for bit, on random nodes and requests.
func TestBuiltinScoresEqualScorers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	draw := func(limit int64) Resources {
		return Resources{rng.Int64N(limit), rng.Int64N(limit) * mib, rng.Int64N(limit) * mib, rng.Int64N(4)}
	}
	cases := []struct {
		name   string
		scorer Scorer
		inline func(c, free, req *Resources) float64
	}{
		{Greedy, GreedyScorer{}, func(_, free, req *Resources) float64 { return greedyScore(free, req) }},
		{BestFit, BestFitScorer{}, bestFitScore},
		{Balanced, BalancedScorer{}, balancedScore},
		{DotProduct, DotProductScorer{}, dotProductScore},
		{NormFit, NormFitScorer{}, normFitScore},
		{MostAllocated, MostAllocatedScorer{}, mostAllocatedScore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 10000 {
				c, req := draw(20000), draw(5000)
				free := Resources{rng.Int64N(c.MilliCPU + 1), rng.Int64N(c.MemoryBytes + 1), rng.Int64N(c.DiskBytes + 1), rng.Int64N(c.Accelerators + 1)}
				want := tc.scorer.Score(Fit{Capacity: c, Free: free, Request: req}, nil)
				if got := tc.inline(&c, &free, &req); got != want {
					t.Fatalf("capacity %v free %v request %v: inline %v, Score %v", c, free, req, got, want)
				}
			}
		})
	}
}
