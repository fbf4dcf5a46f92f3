package placement

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/threadclock"
)

// benchShapes are the node kinds of the benchmark cluster (capacity in
// millicores and MiB), as in the simulation of package placementsim: sizes
// and CPU:memory ratios differ, so every scorer has something to rank.
var benchShapes = []struct {
	cpu, memMiB int64
	labels      map[string]string
}{
	{4000, 4096, map[string]string{"arch": "arm64"}},
	{4000, 16384, map[string]string{"arch": "amd64"}},
	{16000, 8192, map[string]string{"arch": "amd64"}},
	{16000, 32768, map[string]string{"arch": "amd64"}},
	{8000, 16384, map[string]string{"arch": "arm64"}},
}

// benchSnapshot is a cluster of n nodes, each about half full with tasks of
// a few hundred millicores and MiB, so that most nodes can take the
// benchmark's task and an exact scan scores nearly all of them.
func benchSnapshot(b *testing.B, n int) *Snapshot {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	st := NewState()
	for i := range n {
		s := benchShapes[rng.IntN(len(benchShapes))]
		labels := map[string]string{LabelZone: fmt.Sprintf("z%d", i%4), LabelSite: fmt.Sprintf("s%d", i%50)}
		for k, v := range s.labels {
			labels[k] = v
		}
		nd := node(fmt.Sprintf("n%05d", i), s.cpu, s.memMiB, labels)
		free := nd.Capacity
		target := rng.Float64() // share of the node to fill
		for k := 0; ; k++ {
			t := task(fmt.Sprintf("r%d.%d", i, k), 100+rng.Int64N(900), 128+rng.Int64N(1024))
			if !free.Covers(t.Request) || free.MilliCPU-t.Request.MilliCPU < int64(float64(s.cpu)*(1-target)) {
				break
			}
			free = free.Sub(t.Request)
			nd.Tasks = append(nd.Tasks, t)
		}
		if err := st.UpsertNode(nd); err != nil {
			b.Fatal(err)
		}
	}
	return st.Snapshot(t0, time.Minute)
}

// BenchmarkPlanOneTask times one Plan call for one task (500m, 512 MiB, no
// constraints) on a cluster where most nodes can take it, for every
// algorithm, scoring every feasible node and, at 10,000 nodes, as many as
// Kubernetes' adaptive default. cpu-ns/op is the thread CPU time (where the
// platform has a thread clock), which leaves out waiting for a core.
func BenchmarkPlanOneTask(b *testing.B) {
	for _, nodes := range []int{100, 10000} {
		sn := benchSnapshot(b, nodes)
		for _, alg := range AlgorithmNames() {
			enoughs := []int{0}
			if nodes >= 10000 {
				enoughs = append(enoughs, AdaptiveNodesToScore(nodes))
			}
			for _, enough := range enoughs {
				b.Run(fmt.Sprintf("nodes=%d/%s/feasible-to-score=%d", nodes, alg, enough), func(b *testing.B) {
					p, err := NewPlanner(alg, Options{FeasibleNodesToScore: enough})
					if err != nil {
						b.Fatal(err)
					}
					tasks := []Task{task("t", 500, 512)}
					clock, release, haveClock := threadclock.Start()
					defer release()
					var cpu time.Duration
					if haveClock {
						cpu = clock()
					}
					for b.Loop() {
						if _, err := p.Plan(context.Background(), sn, tasks); err != nil {
							b.Fatal(err)
						}
					}
					if haveClock {
						b.ReportMetric(float64((clock()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
					}
				})
			}
		}
	}
}
