package placement_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeflow/edgeflow/internal/placement"
)

// A scheduling round over an in-memory cluster: the node in plant-a stopped
// sending heartbeats, so its task moves; a new task prefers plant-b.
func Example() {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	gib := int64(1 << 30)
	nodes := []placement.NodeStatus{
		{ID: "gw-a", Labels: map[string]string{"site": "plant-a", "zone": "z1"}, LastHeartbeat: now.Add(-time.Minute),
			Capacity: placement.Resources{MilliCPU: 4000, MemoryBytes: 4 * gib},
			Tasks:    []placement.Task{{ID: "dedupe-1", Request: placement.Resources{MilliCPU: 500, MemoryBytes: gib}}}},
		{ID: "gw-b", Labels: map[string]string{"site": "plant-b", "zone": "z1"}, LastHeartbeat: now,
			Capacity: placement.Resources{MilliCPU: 4000, MemoryBytes: 8 * gib}},
		{ID: "srv-c", Labels: map[string]string{"site": "plant-c", "zone": "z2"}, LastHeartbeat: now,
			Capacity: placement.Resources{MilliCPU: 16000, MemoryBytes: 32 * gib}},
	}
	cluster, err := placement.NewMemoryCluster(nodes, 15*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	cluster.Now = func() time.Time { return now }
	planner, err := placement.NewPlanner(placement.BestFit, placement.Options{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	detect := placement.Task{ID: "detect-1", Request: placement.Resources{MilliCPU: 1000, MemoryBytes: 2 * gib},
		Constraints: placement.Constraints{NearSite: "plant-b"}}
	plan, err := placement.Schedule(context.Background(), cluster, planner, []placement.Task{detect}, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range plan.Placements {
		if p.From != "" {
			fmt.Printf("%s: %s → %s\n", p.Task.ID, p.From, p.NodeID)
		} else {
			fmt.Printf("%s: %s\n", p.Task.ID, p.NodeID)
		}
	}
	// Output:
	// dedupe-1: gw-a → gw-b
	// detect-1: gw-b
}
