package placement

import (
	"math"
	"math/rand/v2"
)

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
	if d.enough == 0 && d.kind != scoreRandom {
		return d.scanBounded(t, n)
	}
	pages := d.w.pages
	level := cpuLevel(n.req.MilliCPU)
	b := scanBest{slot: -1}
	for k := range pages {
		if d.enough > 0 && b.feasible >= d.enough {
			break
		}
		p := first + k
		if p >= len(pages) {
			p -= len(pages)
		}
		if pg := pages[p]; d.pageFits(pg, level, &n.req) {
			d.scanPage(pg, p, t, n, rng, &b, false, allSites)
		}
	}
	return b.slot
}

// scanBest is the best node a scan has seen so far.
type scanBest struct {
	slot     int32 // -1: none yet
	tier     bool  // at the task's preferred site
	score    float64
	feasible int // feasible nodes seen
}

// pageFits adds the page's nodes to the count and reports whether any of them
// may have enough of every resource for req; if not, it counts them as
// rejected for the first resource the page lacks.
func (d *decider) pageFits(pg *page, level int, req *Resources) bool {
	d.nodes += pg.count
	if r := resourceReject(pg.maxFree, *req); r >= 0 {
		d.rejects[r] += pg.count // no node of the page has enough of r
		return false
	}
	if pg.memAtCPU[level] < req.MemoryBytes {
		d.rejects[rejectCPUOrMemory] += pg.count // no node has enough of both
		return false
	}
	return true
}

// siteFilter limits scanPage to the nodes of one site (only) or to the nodes
// not at one site (except); -1: no limit.
type siteFilter struct{ only, except int32 }

var allSites = siteFilter{-1, -1}

// scanPage checks and scores the nodes of page p that sites lets through, in
// slot order, and keeps the best in b: a node at the preferred site over any
// other, then the highest score; of equal ones the node seen first or, if
// bySlot, the lowest slot.
func (d *decider) scanPage(pg *page, p int, t *Task, n *taskNeeds, rng *rand.Rand, b *scanBest, bySlot bool, sites siteFilter) {
	req := n.req
	timeout, now := d.sn.timeout, d.sn.now
	rejects := d.rejects[:rejectShared]
	kind := d.kind
	for j := range pageSize {
		if pg.node[j] == nil || sites.only >= 0 && pg.site[j] != sites.only || sites.except >= 0 && pg.site[j] == sites.except {
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
		if n.constrained && !bySlot {
			if r := d.constraintReject(pg, j, t, n); r >= 0 {
				rejects[r]++
				continue
			}
		}
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
		tier := n.site >= 0 && pg.site[j] == n.site
		slot := int32(p*pageSize + j)
		better := b.slot < 0 || (tier && !b.tier) || (tier == b.tier && (score > b.score || bySlot && score == b.score && slot < b.slot))
		if bySlot && n.constrained {
			// The exact scan checks the constraints of a node that would be
			// the best only (it draws nothing and counts no feasible nodes):
			// the others are not counted as rejected, which matters only if
			// no node is feasible, and then none was the best.
			if !better {
				continue
			}
			if r := d.constraintReject(pg, j, t, n); r >= 0 {
				rejects[r]++
				continue
			}
		}
		b.feasible++
		if better {
			b.slot, b.tier, b.score = slot, tier, score
		}
	}
}

// pageBound is a page and a bound on the score of any of its nodes.
type pageBound struct {
	bound float64
	page  int
}

// scanBounded is the exact scan of a scorer that draws nothing, so the nodes
// may be scored in any order: the best is the feasible node at the task's
// preferred site, if any, with the highest score, else the feasible node with
// the highest score, and of equal ones the lowest slot (the node an exact
// scan in snapshot order sees first). It scans the nodes at the preferred
// site first and the others only if none of those is feasible. Each pass
// scans the page with the highest bound first, then the others in snapshot
// order, skipping a page whose bound is below the best score so far (by a
// margin for the rounding of the bound): none of its nodes could beat or tie
// the best. Skipped pages are not counted in the rejections, which matter
// only when no node is feasible, and then no page is skipped; a node is
// counted in one pass only.
func (d *decider) scanBounded(t *Task, n *taskNeeds) int32 {
	pages := d.w.pages
	level := cpuLevel(n.req.MilliCPU)
	fits, top := d.fits[:0], -1
	for p, pg := range pages {
		if !d.pageFits(pg, level, &n.req) {
			continue
		}
		bound := d.bound(pg, &n.req)
		if top < 0 || bound > fits[top].bound {
			top = len(fits)
		}
		fits = append(fits, pageBound{bound, p})
	}
	d.fits = fits
	sites := allSites
	if n.site >= 0 {
		if best := d.scanPass(t, n, fits, top, siteFilter{n.site, -1}); best >= 0 {
			return best
		}
		sites = siteFilter{-1, n.site}
	}
	return d.scanPass(t, n, fits, top, sites)
}

// scanPass is one pass of scanBounded over the pages fits, fits[top] first.
func (d *decider) scanPass(t *Task, n *taskNeeds, fits []pageBound, top int, sites siteFilter) int32 {
	pages := d.w.pages
	b := scanBest{slot: -1}
	if top >= 0 {
		d.scanPage(pages[fits[top].page], fits[top].page, t, n, nil, &b, true, sites)
	}
	for i, f := range fits {
		if i == top || b.slot >= 0 && f.bound < b.score-1e-9*(1+math.Abs(b.score)) {
			continue
		}
		d.scanPage(pages[f.page], f.page, t, n, nil, &b, true, sites)
	}
	return b.slot
}

// bound is at least the score of every node of pg for req (see scanBounded).
func (d *decider) bound(pg *page, req *Resources) float64 {
	switch d.kind {
	case scoreBalanced:
		// LeastAllocated + BalancedAllocation is 100 + 100 × the smaller of
		// the CPU and memory shares left free after the task, at most the
		// smaller free share before it.
		return 100 + 100*pg.minFreeShare
	case scoreGreedy:
		// Each term of the greedy score grows with the free amount, rounding
		// included: the page's most free of each resource bounds it.
		return greedyScore(&pg.maxFree, req)
	}
	return math.Inf(1) // no bound: every page is scanned
}
