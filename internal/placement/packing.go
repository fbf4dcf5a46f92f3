package placement

import "math/rand/v2"

// The vector bin-packing policies of the literature, for comparison with the
// policies above. Each scores CPU and memory as shares of the node's capacity
// (the shared filters have already checked disk and accelerators).
const (
	// DotProduct is Tetris' alignment score (Grandl et al., SIGCOMM 2014):
	// the node whose free resources point the same way as the request.
	DotProduct = "dot-product"
	// NormFit is the L2 norm-based greedy of Panigrahy et al., "Heuristics
	// for Vector Bin Packing" (2011): the node whose free resources after the
	// task are smallest in the Euclidean norm.
	NormFit = "norm-fit"
	// MostAllocated is Kubernetes' MostAllocated scoring strategy: the node
	// whose mean used share of CPU and memory after the task is highest.
	MostAllocated = "most-allocated"
)

// DotProductScorer is Tetris' alignment: the dot product of the request and
// the node's free resources, each as a share of the node's capacity. A
// memory-heavy task goes where much memory is free relative to CPU, so
// neither resource is stranded; among aligned nodes the one with more room
// wins, which keeps spreading small tasks the way LeastAllocated does.
type DotProductScorer struct{}

// Score is req_cpu·free_cpu + req_mem·free_mem, as shares of capacity.
func (DotProductScorer) Score(f Fit, _ *rand.Rand) float64 {
	return dotProductScore(&f.Capacity, &f.Free, &f.Request)
}

func dotProductScore(c, free, req *Resources) float64 {
	return float64(share(req.MilliCPU, c.MilliCPU)*share(free.MilliCPU, c.MilliCPU)) +
		float64(share(req.MemoryBytes, c.MemoryBytes)*share(free.MemoryBytes, c.MemoryBytes))
}

// NormFitScorer is Panigrahy et al.'s L2 norm-based greedy: the node whose
// remaining free CPU and memory after the task, as shares of its capacity,
// have the smallest sum of squares. It packs (a fuller node has less left)
// and prefers leaving the two resources even (a square punishes the larger
// leftover more).
type NormFitScorer struct{}

// Score is -(left_cpu² + left_mem²), leftovers as shares of capacity.
func (NormFitScorer) Score(f Fit, _ *rand.Rand) float64 {
	return normFitScore(&f.Capacity, &f.Free, &f.Request)
}

func normFitScore(c, free, req *Resources) float64 {
	cpu := share(free.MilliCPU-req.MilliCPU, c.MilliCPU)
	mem := share(free.MemoryBytes-req.MemoryBytes, c.MemoryBytes)
	return -(float64(cpu*cpu) + float64(mem*mem))
}

// MostAllocatedScorer is Kubernetes' MostAllocated: the mean share of CPU
// and memory in use after the task, highest wins.
type MostAllocatedScorer struct{}

// Score is the mean used share of CPU and memory after placement.
func (MostAllocatedScorer) Score(f Fit, _ *rand.Rand) float64 {
	return mostAllocatedScore(&f.Capacity, &f.Free, &f.Request)
}

func mostAllocatedScore(c, free, req *Resources) float64 {
	return (usedShare(c.MilliCPU, free.MilliCPU, req.MilliCPU) + usedShare(c.MemoryBytes, free.MemoryBytes, req.MemoryBytes)) / 2
}

// share is x as a share of capacity; 0 for a resource the node does not have.
func share(x, capacity int64) float64 {
	if capacity <= 0 {
		return 0
	}
	return float64(x) / float64(capacity)
}
