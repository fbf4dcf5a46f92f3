package placement

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkPlanOneTask times one Plan call for one task on a half-full cluster.
func BenchmarkPlanOneTask(b *testing.B) {
	for _, nodes := range []int{100, 10000} {
		for _, enough := range []int{0, AdaptiveNodesToScore(nodes)} {
			b.Run(fmt.Sprintf("nodes=%d/feasible-to-score=%d", nodes, enough), func(b *testing.B) {
				st := NewState()
				for i := range nodes {
					n := node(fmt.Sprintf("n%05d", i), 8000, 16384, map[string]string{LabelZone: fmt.Sprintf("z%d", i%4)})
					for k := range 8 {
						n.Tasks = append(n.Tasks, task(fmt.Sprintf("r%d.%d", i, k), int64(100+(i*7+k*13)%400), int64(200+(i*11+k*17)%800)))
					}
					if err := st.UpsertNode(n); err != nil {
						b.Fatal(err)
					}
				}
				sn := st.Snapshot(t0, time.Minute)
				p, _ := NewPlanner(BestFit, Options{FeasibleNodesToScore: enough})
				tasks := []Task{task("t", 500, 512)}
				b.ResetTimer()
				for b.Loop() {
					if _, err := p.Plan(context.Background(), sn, tasks); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
