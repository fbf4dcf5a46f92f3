package placement

import "math/rand/v2"

// scorerKind names a built-in scorer whose score the planner's scan computes
// inline, without a Fit and an interface call per node.
type scorerKind uint8

const (
	scoreByInterface scorerKind = iota // another Scorer, or an algorithm with Filters
	scoreGreedy
	scoreRandom
	scoreBestFit
	scoreBalanced
	scoreDotProduct
	scoreNormFit
	scoreMostAllocated
)

// builtinKind is the kind of a's scorer if the scan may compute it inline: a
// built-in scorer and no extra filters.
func builtinKind(a *Algorithm) scorerKind {
	if len(a.Filters) > 0 {
		return scoreByInterface
	}
	switch a.Scorer.(type) {
	case GreedyScorer:
		return scoreGreedy
	case RandomScorer:
		return scoreRandom
	case BestFitScorer:
		return scoreBestFit
	case BalancedScorer:
		return scoreBalanced
	case DotProductScorer:
		return scoreDotProduct
	case NormFitScorer:
		return scoreNormFit
	case MostAllocatedScorer:
		return scoreMostAllocated
	}
	return scoreByInterface
}

// scanBuiltin is scan for a built-in scorer and no extra filters: the same
// pages skipped, the same nodes rejected for the same reasons, the same
// scores in the same order (random draws included), so the same node is
// chosen. It reads the page's free and capacity arrays directly and follows
// a node's NodeInfo only for a constraint or a preferred site.
func (d *decider) scanBuiltin(t *Task, n *taskNeeds, rng *rand.Rand, first int) int32 {
	pages := d.w.pages
	req := n.req
	level := cpuLevel(req.MilliCPU)
	timeout, now := d.sn.timeout, d.sn.now
	rejects := d.rejects[:rejectShared]
	kind := d.kind
	best, bestTier, bestScore, feasible := int32(-1), false, 0.0, 0
	for k := range pages {
		if d.enough > 0 && feasible >= d.enough {
			break
		}
		p := first + k
		if p >= len(pages) {
			p -= len(pages)
		}
		pg := pages[p]
		d.nodes += pg.count
		if r := resourceReject(pg.maxFree, req); r >= 0 {
			rejects[r] += pg.count // no node of the page has enough of r
			continue
		}
		if pg.memAtCPU[level] < req.MemoryBytes {
			rejects[rejectCPUOrMemory] += pg.count // no node has enough of both
			continue
		}
		for j := range pageSize {
			if pg.node[j] == nil {
				continue
			}
			if pg.down[j] || timeout > 0 && now-pg.heartbeat[j] > timeout {
				rejects[rejectDown]++
				continue
			}
			free := &pg.free[j]
			switch {
			case free.MilliCPU < req.MilliCPU:
				rejects[rejectCPU]++
				continue
			case free.MemoryBytes < req.MemoryBytes:
				rejects[rejectMemory]++
				continue
			case free.DiskBytes < req.DiskBytes:
				rejects[rejectDisk]++
				continue
			case free.Accelerators < req.Accelerators:
				rejects[rejectAccelerators]++
				continue
			}
			if n.constrained {
				if r := d.constraintReject(pg, j, t, n); r >= 0 {
					rejects[r]++
					continue
				}
			}
			feasible++
			capacity := &pg.capacity[j]
			var score float64
			switch kind {
			case scoreGreedy:
				score = greedyScore(free, &req)
			case scoreRandom:
				score = rng.Float64()
			case scoreBestFit:
				score = bestFitScore(capacity, free, &req)
			case scoreBalanced:
				score = balancedScore(capacity, free, &req)
			case scoreDotProduct:
				score = dotProductScore(capacity, free, &req)
			case scoreNormFit:
				score = normFitScore(capacity, free, &req)
			case scoreMostAllocated:
				score = mostAllocatedScore(capacity, free, &req)
			}
			tier := n.site >= 0 && pg.node[j].site == n.site
			if best < 0 || (tier && !bestTier) || (tier == bestTier && score > bestScore) {
				best, bestTier, bestScore = int32(p*pageSize+j), tier, score
			}
		}
	}
	return best
}
