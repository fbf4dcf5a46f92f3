package placementsim

import (
	"context"
	"testing"

	"github.com/edgeflow/edgeflow/internal/placement"
)

// A small version of make bench-schedule: every algorithm on 30 nodes.
func TestRunSmallCluster(t *testing.T) {
	w := Workload{Nodes: 30, Load: 1.2, Arrivals: 3000, Seed: 1}
	for _, name := range placement.AlgorithmNames() {
		t.Run(name, func(t *testing.T) {
			p, err := placement.NewPlanner(name, placement.Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(context.Background(), p, w)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: cpu %.3f mem %.3f accept %.3f (immediate %d) frag %.3f p50 %v p99 %v over %d decisions",
				name, r.CPUUtilisation, r.MemoryUtilisation, r.AcceptanceRate(), r.Immediate, r.Fragmentation, r.LatencyP50, r.LatencyP99, r.Decisions)
			for what, v := range map[string]float64{"cpu": r.CPUUtilisation, "memory": r.MemoryUtilisation, "acceptance": r.AcceptanceRate(), "fragmentation": r.Fragmentation} {
				if v <= 0 || v > 1 {
					t.Errorf("%s = %v, want in (0,1]", what, v)
				}
			}
			again, err := Run(context.Background(), p, w)
			if err != nil {
				t.Fatal(err)
			}
			if again.Accepted != r.Accepted || again.CPUUtilisation != r.CPUUtilisation {
				t.Errorf("two runs with one seed differ: %+v vs %+v", r, again)
			}
		})
	}
}

func TestRunRejectsBadWorkload(t *testing.T) {
	p, _ := placement.NewPlanner(placement.Greedy, placement.Options{})
	for _, w := range []Workload{{Nodes: 0, Load: 1, Arrivals: 1}, {Nodes: 1, Load: 0, Arrivals: 1}, {Nodes: 1, Load: 1, Arrivals: 0}} {
		if _, err := Run(context.Background(), p, w); err == nil {
			t.Errorf("%+v: no error", w)
		}
	}
}

// The pooled cluster has one node per shape with the shapes' summed capacity,
// and RunPooled measures it like Run.
func TestRunPooled(t *testing.T) {
	w := Workload{Nodes: 40, Load: 1.2, Arrivals: 2000, Seed: 1}
	nodes := w.NodeStatuses()
	pools := poolByShape(nodes)
	var total, pooled placement.Resources
	for _, n := range nodes {
		total = total.Add(n.Capacity)
	}
	for _, n := range pools {
		pooled = pooled.Add(n.Capacity)
	}
	if len(pools) > len(nodeShapes) || pooled != total {
		t.Fatalf("%d pools with %v, want at most %d with %v", len(pools), pooled, len(nodeShapes), total)
	}
	p, err := placement.NewPlanner(placement.Greedy, placement.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := RunPooled(context.Background(), p, w)
	if err != nil {
		t.Fatal(err)
	}
	if a := r.AcceptanceRate(); a <= 0 || a > 1 || r.CPUUtilisation <= 0 || r.CPUUtilisation > 1 || r.MemoryUtilisation <= 0 || r.MemoryUtilisation > 1 {
		t.Fatalf("pooled run: %+v", r)
	}
}
