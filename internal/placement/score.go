package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Fit is one feasible node as a scorer or an extra filter sees it for one task.
type Fit struct {
	Node     *NodeInfo
	Capacity Resources // Node.Capacity
	Free     Resources // free on the node before the task
	Request  Resources // what the task takes
}

// Scorer ranks feasible nodes for a task: the highest score wins, ties go to
// the node that comes first in the snapshot. rng is seeded per task from the
// planner's seed; a scorer that does not draw ignores it.
type Scorer interface {
	Score(f Fit, rng *rand.Rand) float64
}

// Filter is a feasibility check an Algorithm adds to the ones every algorithm
// shares. Name is the reason reported for the nodes it rejects.
type Filter interface {
	Name() string
	Feasible(f Fit, t *Task) bool
}

// Algorithm is a placement policy: the shared feasibility filters, its own
// Filters, then its Scorer.
type Algorithm struct {
	Name    string
	Filters []Filter
	Scorer  Scorer
}

// The algorithms edgeflow ships, by name.
const (
	Greedy   = "greedy"   // the reference article's: most free CPU and memory relative to the request
	Random   = "random"   // a uniformly random feasible node (baseline)
	BestFit  = "best-fit" // dominant-resource bin packing: the node left fullest
	Balanced = "balanced" // Kubernetes' LeastAllocated + BalancedAllocation
)

// AlgorithmNames lists the built-in algorithms.
func AlgorithmNames() []string {
	return []string{Greedy, Random, BestFit, Balanced, DotProduct, NormFit, MostAllocated}
}

// AlgorithmByName returns a built-in algorithm.
func AlgorithmByName(name string) (Algorithm, error) {
	var s Scorer
	switch name {
	case Greedy:
		s = GreedyScorer{}
	case Random:
		s = RandomScorer{}
	case BestFit:
		s = BestFitScorer{}
	case Balanced:
		s = BalancedScorer{}
	case DotProduct:
		s = DotProductScorer{}
	case NormFit:
		s = NormFitScorer{}
	case MostAllocated:
		s = MostAllocatedScorer{}
	default:
		return Algorithm{}, fmt.Errorf("algorithm %q: unknown (known: %v)", name, AlgorithmNames())
	}
	return Algorithm{Name: name, Scorer: s}, nil
}

// GreedyScorer is the reference article's greedy scheduler: nodes sorted by
// cpu_free/cpu_req + mem_free/mem_req descending (a stable sort), the first
// that fits taken. Taking the highest score among the feasible nodes, ties to
// the first, picks the same node in O(n) instead of O(n log n). The article
// divides by zero for a task requesting no CPU or no memory; here such a term
// is 0, so the other resource decides.
type GreedyScorer struct{}

// Score is cpu_free/cpu_req + mem_free/mem_req.
func (GreedyScorer) Score(f Fit, _ *rand.Rand) float64 { return greedyScore(&f.Free, &f.Request) }

// The scores of the built-in scorers are functions of the node's capacity,
// its free resources and the request, shared by the Score methods and the
// planner's scan (scan.go), which computes them without building a Fit:
// both must give the same bits, or ties would break differently. Explicit
// float64 conversions keep a compiler from fusing a product and a sum in one
// place and not in the other.

func greedyScore(free, req *Resources) float64 {
	var s float64
	if req.MilliCPU > 0 {
		s += float64(free.MilliCPU) / float64(req.MilliCPU)
	}
	if req.MemoryBytes > 0 {
		s += float64(free.MemoryBytes) / float64(req.MemoryBytes)
	}
	return s
}

// RandomScorer draws a uniform score, so the highest is a uniformly random
// feasible node.
type RandomScorer struct{}

// Score is a uniform draw from rng.
func (RandomScorer) Score(_ Fit, rng *rand.Rand) float64 { return rng.Float64() }

// BestFitScorer packs by dominant resource: the node whose dominant
// remaining share (the largest share of any resource it has that would stay
// free after the task) is smallest wins, so the task goes where it leaves the
// least of every resource over; the mean used share of CPU and memory breaks
// near-ties. Packing leaves whole nodes free for large tasks without
// stranding one resource on nodes whose other resource is full.
type BestFitScorer struct{}

// Score is 1 - the dominant remaining share, plus a tenth of the mean CPU and
// memory share in use after placement.
func (BestFitScorer) Score(f Fit, _ *rand.Rand) float64 {
	return bestFitScore(&f.Capacity, &f.Free, &f.Request)
}

func bestFitScore(c, free, req *Resources) float64 {
	cpu := usedShare(c.MilliCPU, free.MilliCPU, req.MilliCPU)
	mem := usedShare(c.MemoryBytes, free.MemoryBytes, req.MemoryBytes)
	least := min(cpu, mem)
	if req.DiskBytes > 0 {
		least = min(least, usedShare(c.DiskBytes, free.DiskBytes, req.DiskBytes))
	}
	if req.Accelerators > 0 {
		least = min(least, usedShare(c.Accelerators, free.Accelerators, req.Accelerators))
	}
	return least + float64(0.1*(cpu+mem)/2)
}

// BalancedScorer is Kubernetes' default scoring of CPU and memory:
// LeastAllocated (mean free share after placement) plus BalancedAllocation
// (1 - the standard deviation of the used shares), both out of 100.
type BalancedScorer struct{}

// Score is LeastAllocated + BalancedAllocation.
func (BalancedScorer) Score(f Fit, _ *rand.Rand) float64 {
	return balancedScore(&f.Capacity, &f.Free, &f.Request)
}

func balancedScore(c, free, req *Resources) float64 {
	cpu := usedShare(c.MilliCPU, free.MilliCPU, req.MilliCPU)
	mem := usedShare(c.MemoryBytes, free.MemoryBytes, req.MemoryBytes)
	least := float64(((1 - cpu) + (1 - mem)) / 2 * 100)
	balanced := float64((1 - math.Abs(cpu-mem)/2) * 100)
	return least + balanced
}

// usedShare is the share of capacity in use after taking req from free;
// 1 for a resource the node does not have.
func usedShare(capacity, free, req int64) float64 {
	if capacity <= 0 {
		return 1
	}
	return float64(capacity-free+req) / float64(capacity)
}

// ArticleGreedy is the reference article's schedule_task as written, for tests
// and the benchmark: sort nodes by cpu_free/cpu_req + mem_free/mem_req
// descending (stable), return the index of the first whose free CPU and memory
// cover the request, or -1.
func ArticleGreedy(free []Resources, req Resources) int {
	order := make([]int, len(free))
	for i := range order {
		order[i] = i
	}
	score := func(i int) float64 {
		return GreedyScorer{}.Score(Fit{Free: free[i], Request: req}, nil)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		sa, sb := score(a), score(b)
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	for _, i := range order {
		if free[i].MilliCPU >= req.MilliCPU && free[i].MemoryBytes >= req.MemoryBytes {
			return i
		}
	}
	return -1
}
