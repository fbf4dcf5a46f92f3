package schedule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/placement"
)

type discardWriter struct{}

func (discardWriter) WriteAssignment(context.Context, fleet.Assignment) error  { return nil }
func (discardWriter) WriteStatus(context.Context, fleet.SchedulerStatus) error { return nil }

// BenchmarkRound measures a steady-state round (every task placed, nothing
// changes: the cost paid every --interval) and a round placing 1 % new tasks,
// on clusters of nodes running 4 tasks each.
func BenchmarkRound(b *testing.B) {
	for _, nodes := range []int{100, 1000, 10000} {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tracker, _ := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: time.Minute, Now: func() time.Time { return now }})
		for i := range nodes {
			if err := tracker.Observe(heartbeat(fmt.Sprintf("n%05d", i), now, 4000, 8<<30, map[string]string{"zone": fmt.Sprint(i % 3)})); err != nil {
				b.Fatal(err)
			}
		}
		planner, _ := placement.NewPlanner("best-fit", placement.Options{FeasibleNodesToScore: placement.AdaptiveNodesToScore(nodes)})
		s, _ := New(Config{Planner: planner, Tracker: tracker, Writer: discardWriter{}, Now: func() time.Time { return now }})
		for i := range 4 * nodes {
			s.PutTask(newTask(fmt.Sprintf("t%06d", i), 500, 512<<20, 0))
		}
		if _, err := s.Round(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("nodes=%d/tasks=%d/steady", nodes, 4*nodes), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Round(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/tasks=%d/place-1%%", nodes, 4*nodes), func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				for range max(1, nodes*4/100) {
					n++
					s.PutTask(newTask(fmt.Sprintf("new%07d", n), 10, 1<<20, 0))
				}
				b.StartTimer()
				if _, err := s.Round(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
