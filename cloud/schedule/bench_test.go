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

// BenchmarkRound measures rounds on clusters of nodes running 4 tasks each:
//   - steady: every task placed, nothing changes (the cost paid every --interval);
//   - heartbeats-1%: 1 % of the nodes sent a heartbeat since the last round,
//     with the same capacity and labels (what happens between most rounds);
//   - relabel-1%: 1 % of the nodes sent a heartbeat with other labels, so the
//     round compares the nodes and plans, but nothing moves;
//   - place-1%: 1 % new tasks were submitted since the last round;
//   - place-1: one new task was submitted (tasks arriving one at a time);
//   - join: a node was heard of for the first time, its ID among the others';
//   - stop-1: a node said it stops; its 4 tasks move to others.
func BenchmarkRound(b *testing.B) {
	for _, nodes := range []int{100, 1000, 10000} {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tracker, _ := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: time.Minute, Now: func() time.Time { return now }})
		zone := func(i int) map[string]string { return map[string]string{"zone": fmt.Sprint(i % 3)} }
		for i := range nodes {
			if err := tracker.Observe(heartbeat(fmt.Sprintf("n%05d", i), now, 4000, 8<<30, zone(i))); err != nil {
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
		round := func(b *testing.B) {
			if _, err := s.Round(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		name := fmt.Sprintf("nodes=%d/tasks=%d", nodes, 4*nodes)
		b.Run(name+"/steady", func(b *testing.B) {
			for b.Loop() {
				round(b)
			}
		})
		// heartbeats sends one heartbeat from each of 1 % of the nodes, the
		// next ones each time, with labels(i) for node i.
		next := 0
		heartbeats := func(b *testing.B, labels func(int) map[string]string) {
			for range max(1, nodes/100) {
				i := next % nodes
				next++
				if err := tracker.Observe(heartbeat(fmt.Sprintf("n%05d", i), now, 4000, 8<<30, labels(i))); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(name+"/heartbeats-1%", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				heartbeats(b, zone)
				b.StartTimer()
				round(b)
			}
		})
		relabel := 0
		b.Run(name+"/relabel-1%", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				relabel++
				heartbeats(b, func(i int) map[string]string {
					return map[string]string{"zone": fmt.Sprint(i % 3), "rack": fmt.Sprint(relabel)}
				})
				b.StartTimer()
				round(b)
			}
		})
		b.Run(name+"/place-1%", func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				for range max(1, nodes*4/100) {
					n++
					s.PutTask(newTask(fmt.Sprintf("new%07d", n), 10, 1<<20, 0))
				}
				b.StartTimer()
				round(b)
			}
		})
		b.Run(name+"/place-1", func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				s.PutTask(newTask(fmt.Sprintf("one%07d", n), 10, 1<<20, 0))
				b.StartTimer()
				round(b)
			}
		})
		b.Run(name+"/join", func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				id := fmt.Sprintf("n%05d-%d", (n*7919)%nodes, n) // sorts right after node (n*7919)%nodes
				if err := tracker.Observe(heartbeat(id, now, 4000, 8<<30, zone(n))); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				round(b)
			}
		})
		b.Run(name+"/stop-1", func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				i := (n * 7919) % nodes
				hb := heartbeat(fmt.Sprintf("n%05d", i), now, 4000, 8<<30, zone(i))
				hb.Stopping = true
				if err := tracker.Observe(hb); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				round(b)
			}
		})
	}
}
