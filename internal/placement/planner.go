package placement

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
)

// Placement puts a task on a node. From is the down node it moves off, or "".
type Placement struct {
	Task   Task
	NodeID string
	From   string
}

// Waiting is a task no node can take now; Reason counts why, per node.
// A task from a down node (From set) is removed from it all the same: the
// caller keeps it pending.
type Waiting struct {
	Task   Task
	From   string
	Reason string
}

// Preemption evicts a lower-priority task from a node to make room for the
// task For. The evicted task is pending again; the caller resubmits it.
type Preemption struct {
	Task   Task
	NodeID string
	For    string
}

// Plan is the planner's decision for one snapshot and one list of tasks.
type Plan struct {
	Algorithm   string
	Placements  []Placement
	Waiting     []Waiting
	Preemptions []Preemption
}

// Options tune a Planner.
type Options struct {
	// Seed makes random choices repeatable: the same snapshot, tasks and seed
	// give the same plan.
	Seed uint64
	// Preempt lets a task that fits nowhere evict tasks of lower priority.
	Preempt bool
	// FeasibleNodesToScore bounds the search like Kubernetes'
	// percentageOfNodesToScore: the planner starts at a node drawn from the
	// task's seed, goes round the snapshot a page of nodes at a time, and
	// stops once it has seen this many feasible nodes; ties then go to the
	// node seen first, and NearSite prefers among the nodes seen. 0 scores every feasible node, and the result is exact.
	// A task is left waiting only if no node at all can take it, either way.
	// AdaptiveNodesToScore gives Kubernetes' default for a cluster size.
	FeasibleNodesToScore int
}

// AdaptiveNodesToScore is Kubernetes' default number of feasible nodes to
// score in a cluster of n nodes: max(100, n × max(5, 50 - n/125) %).
func AdaptiveNodesToScore(n int) int {
	pct := max(5, 50-n/125)
	return max(100, n*pct/100)
}

// Planner turns a snapshot and pending tasks into a plan. Its zero value is
// not usable; set Algorithm (see AlgorithmByName).
type Planner struct {
	Algorithm Algorithm
	Options   Options
}

// NewPlanner returns a planner running the built-in algorithm name.
func NewPlanner(name string, opts Options) (*Planner, error) {
	a, err := AlgorithmByName(name)
	if err != nil {
		return nil, err
	}
	return &Planner{Algorithm: a, Options: opts}, nil
}

// Reasons a node is rejected, in the order they are checked.
const (
	rejectDown = iota
	rejectCPU
	rejectMemory
	rejectDisk
	rejectAccelerators
	rejectCPUOrMemory // a skipped page: no node has enough CPU and memory at once
	rejectLabels
	rejectAcceleratorKind
	rejectMaxPerNode
	rejectZoneSkew
	rejectShared // extra filters follow
)

var rejectNames = [rejectShared]string{
	"down", "insufficient cpu", "insufficient memory", "insufficient disk", "insufficient accelerators",
	"insufficient cpu or memory", "labels do not match", "no accelerator of the kind", "group at max per node", "zone spread skew",
}

// Plan places the tasks of down nodes and then tasks, highest priority first
// (ties keep their order; moved tasks come before new ones). It never
// overcommits a node. It fails only on invalid or duplicate tasks and on a
// cancelled ctx.
func (p *Planner) Plan(ctx context.Context, sn *Snapshot, tasks []Task) (*Plan, error) {
	if p.Algorithm.Scorer == nil {
		return nil, fmt.Errorf("planner: algorithm %q has no scorer", p.Algorithm.Name)
	}
	seen := make(map[string]int, len(tasks))
	for i := range tasks {
		if err := tasks[i].Validate(fmt.Sprintf("tasks[%d]", i)); err != nil {
			return nil, err
		}
		if j, dup := seen[tasks[i].ID]; dup {
			return nil, fmt.Errorf("tasks[%d] (%s): same id as tasks[%d]: %w", i, tasks[i].ID, j, ErrInvalidTask)
		}
		seen[tasks[i].ID] = i
	}
	w := sn.st.clone()
	type pending struct {
		task Task
		from string
	}
	var queue []pending
	for _, o := range sn.Orphans() {
		w.removeTask(w.index[o.NodeID], o.Task.ID)
		queue = append(queue, pending{o.Task, o.NodeID})
	}
	for _, t := range tasks {
		queue = append(queue, pending{task: t})
	}
	slices.SortStableFunc(queue, func(a, b pending) int { return cmp.Compare(b.task.Priority, a.task.Priority) })

	plan := &Plan{Algorithm: p.Algorithm.Name}
	d := decider{sn: sn, w: w, alg: &p.Algorithm, rejects: make([]int, rejectShared+len(p.Algorithm.Filters)), enough: p.Options.FeasibleNodesToScore, kind: builtinKind(&p.Algorithm)}
	for qi, q := range queue {
		last := qi == len(queue)-1 // no later decision reads the working state
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		t := q.task
		rng := rand.New(rand.NewPCG(p.Options.Seed, taskHash(t.ID)))
		slot, ok := d.decide(&t, rng)
		if !ok && p.Options.Preempt {
			var victims []Task
			if slot, victims, ok = d.preempt(&t); ok {
				node := w.pages[slot/pageSize].node[slot%pageSize].ID
				for _, v := range victims {
					if !last {
						w.removeTask(slot, v.ID)
					}
					plan.Preemptions = append(plan.Preemptions, Preemption{Task: v, NodeID: node, For: t.ID})
				}
			}
		}
		if !ok {
			plan.Waiting = append(plan.Waiting, Waiting{Task: t, From: q.from, Reason: d.reason()})
			continue
		}
		if !last {
			w.addTask(slot, t)
		}
		plan.Placements = append(plan.Placements, Placement{Task: t, NodeID: w.pages[slot/pageSize].node[slot%pageSize].ID, From: q.from})
	}
	return plan, nil
}

func taskHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// decider holds the working state of one Plan call.
type decider struct {
	sn      *Snapshot
	w       *State
	alg     *Algorithm
	rejects []int
	nodes   int
	enough  int         // feasible nodes after which to stop; 0: all
	kind    scorerKind  // scoreByInterface: scan, else scanBuiltin
	fits    []pageBound // scanBounded's pages that may have a feasible node
}

// taskNeeds is a task's constraints resolved against the interned names.
type taskNeeds struct {
	req         Resources
	pairs       []int32
	impossible  bool // a required label no node has
	accKind     int32
	site        int32
	zoneOK      map[int32]bool // zones allowed by ZoneMaxSkew; nil: any
	constrained bool           // any constraint beyond resources
}

func (d *decider) needs(t *Task) taskNeeds {
	c := &t.Constraints
	n := taskNeeds{req: t.request(), accKind: -1, site: -1,
		constrained: len(c.RequiredLabels) > 0 || c.Accelerator != "" || c.Spread.MaxPerNode > 0 || c.Spread.ZoneMaxSkew > 0}
	for k, v := range t.Constraints.RequiredLabels {
		id := d.w.lookup(pairName(k, v))
		if id < 0 {
			n.impossible = true
		}
		n.pairs = append(n.pairs, id)
	}
	if t.Constraints.Accelerator != "" {
		if n.accKind = d.w.lookup("a\x00" + t.Constraints.Accelerator); n.accKind < 0 {
			n.accKind = -2 // no node has it
		}
	}
	if t.Constraints.NearSite != "" {
		n.site = d.w.lookup("s\x00" + t.Constraints.NearSite)
	}
	if skew := t.Constraints.Spread.ZoneMaxSkew; skew > 0 {
		counts := map[int32]int32{}
		d.eachUp(func(pg *page, j int, _ int32) {
			if info := pg.node[j]; info.zone >= 0 && d.labelsMatch(info, &n) {
				counts[info.zone] += groupOn(pg, j, t.Group)
			}
		})
		lowest := int32(-1)
		for _, c := range counts {
			if lowest < 0 || c < lowest {
				lowest = c
			}
		}
		n.zoneOK = map[int32]bool{}
		for z, c := range counts {
			n.zoneOK[z] = c+1-lowest <= int32(skew)
		}
	}
	return n
}

func (d *decider) eachUp(f func(pg *page, j int, slot int32)) {
	for p, pg := range d.w.pages {
		for j := range pageSize {
			if pg.node[j] != nil && !d.sn.down(pg, j) {
				f(pg, j, int32(p*pageSize+j))
			}
		}
	}
}

func (d *decider) labelsMatch(info *NodeInfo, n *taskNeeds) bool {
	if n.impossible {
		return false
	}
	for _, id := range n.pairs {
		if !info.hasPair(id) {
			return false
		}
	}
	return n.accKind == -1 || info.accKind == n.accKind
}

// constraintReject returns the reason the node's constraints (not its free
// resources) rule it out for t, or -1.
func (d *decider) constraintReject(pg *page, j int, t *Task, n *taskNeeds) int {
	info := pg.node[j]
	if n.impossible {
		return rejectLabels
	}
	for _, id := range n.pairs {
		if !info.hasPair(id) {
			return rejectLabels
		}
	}
	if n.accKind != -1 && info.accKind != n.accKind {
		return rejectAcceleratorKind
	}
	if m := t.Constraints.Spread.MaxPerNode; m > 0 && groupOn(pg, j, t.Group) >= int32(m) {
		return rejectMaxPerNode
	}
	if n.zoneOK != nil && !n.zoneOK[info.zone] {
		return rejectZoneSkew
	}
	return -1
}

func resourceReject(free, req Resources) int {
	switch {
	case free.MilliCPU < req.MilliCPU:
		return rejectCPU
	case free.MemoryBytes < req.MemoryBytes:
		return rejectMemory
	case free.DiskBytes < req.DiskBytes:
		return rejectDisk
	case free.Accelerators < req.Accelerators:
		return rejectAccelerators
	}
	return -1
}

// decide returns the slot of the best feasible node for t.
func (d *decider) decide(t *Task, rng *rand.Rand) (int32, bool) {
	clear(d.rejects)
	d.nodes = 0
	n := d.needs(t)
	first := 0
	if d.enough > 0 && len(d.w.pages) > 0 {
		first = rng.IntN(len(d.w.pages))
	}
	var best int32
	if d.kind != scoreByInterface {
		best = d.scanBuiltin(t, &n, rng, first)
	} else {
		best = d.scan(t, &n, rng, first)
	}
	return best, best >= 0
}

// scan goes round the pages from first and returns the slot of the best
// feasible node for t, or -1, counting the rejected nodes by reason.
func (d *decider) scan(t *Task, n *taskNeeds, rng *rand.Rand, first int) int32 {
	pages := d.w.pages
	best, bestTier, bestScore, feasible := int32(-1), false, 0.0, 0
	level := cpuLevel(n.req.MilliCPU)
	for k := range pages {
		if d.enough > 0 && feasible >= d.enough {
			break
		}
		p := (first + k) % len(pages)
		pg := pages[p]
		d.nodes += pg.count
		if r := resourceReject(pg.maxFree, n.req); r >= 0 {
			d.rejects[r] += pg.count // no node of the page has enough of r
			continue
		}
		if pg.memAtCPU[level] < n.req.MemoryBytes {
			d.rejects[rejectCPUOrMemory] += pg.count // no node has enough of both
			continue
		}
		for j := range pageSize {
			info := pg.node[j]
			if info == nil {
				continue
			}
			if d.sn.down(pg, j) {
				d.rejects[rejectDown]++
				continue
			}
			free := pg.free[j]
			if r := resourceReject(free, n.req); r >= 0 {
				d.rejects[r]++
				continue
			}
			if n.constrained {
				if r := d.constraintReject(pg, j, t, n); r >= 0 {
					d.rejects[r]++
					continue
				}
			}
			f := Fit{Node: info, Capacity: pg.capacity[j], Free: free, Request: n.req}
			if len(d.alg.Filters) > 0 {
				if r := d.extraReject(f, t); r >= 0 {
					d.rejects[r]++
					continue
				}
			}
			feasible++
			tier := n.site >= 0 && info.site == n.site
			score := d.alg.Scorer.Score(f, rng)
			if best < 0 || (tier && !bestTier) || (tier == bestTier && score > bestScore) {
				best, bestTier, bestScore = int32(p*pageSize+j), tier, score
			}
		}
	}
	return best
}

func (d *decider) extraReject(f Fit, t *Task) int {
	for i, x := range d.alg.Filters {
		if !x.Feasible(f, t) {
			return rejectShared + i
		}
	}
	return -1
}

// reason formats the rejection counts of the last decide, like
// "0/12 nodes can take it: 9 insufficient memory, 3 down".
func (d *decider) reason() string {
	var parts []string
	for r, c := range d.rejects {
		if c == 0 {
			continue
		}
		name := ""
		if r < rejectShared {
			name = rejectNames[r]
		} else {
			name = d.alg.Filters[r-rejectShared].Name()
		}
		parts = append(parts, fmt.Sprintf("%d %s", c, name))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("0/%d nodes can take it", d.nodes)
	}
	return fmt.Sprintf("0/%d nodes can take it: %s", d.nodes, strings.Join(parts, ", "))
}

// preempt finds the node where evicting tasks of lower priority than t makes
// room with the lowest-priority victims, then the fewest; ties to the first
// node. Victims are taken lowest priority first, larger first.
func (d *decider) preempt(t *Task) (int32, []Task, bool) {
	n := d.needs(t)
	best, bestVictims, bestTop := int32(-1), []Task(nil), 0
	d.eachUp(func(pg *page, j int, slot int32) {
		if d.constraintReject(pg, j, t, &n) >= 0 || !pg.node[j].Capacity.Covers(n.req) {
			return
		}
		var cands []Task
		for _, r := range pg.tasks[j] {
			if r.Priority < t.Priority {
				cands = append(cands, r)
			}
		}
		slices.SortStableFunc(cands, func(a, b Task) int {
			if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
				return c
			}
			return cmp.Compare(b.request().MilliCPU+b.request().MemoryBytes>>20, a.request().MilliCPU+a.request().MemoryBytes>>20)
		})
		free := pg.free[j]
		var victims []Task
		for _, c := range cands {
			if free.Covers(n.req) {
				break
			}
			free = free.Add(c.request())
			victims = append(victims, c)
		}
		if !free.Covers(n.req) || len(victims) == 0 {
			return
		}
		if d.extraReject(Fit{Node: pg.node[j], Capacity: pg.capacity[j], Free: free, Request: n.req}, t) >= 0 {
			return
		}
		top := victims[len(victims)-1].Priority
		for _, v := range victims {
			top = max(top, v.Priority)
		}
		if best < 0 || top < bestTop || (top == bestTop && len(victims) < len(bestVictims)) {
			best, bestVictims, bestTop = slot, victims, top
		}
	})
	return best, bestVictims, best >= 0
}
