package placement

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ErrInvalidNode marks a node status that cannot be used as written.
var ErrInvalidNode = errors.New("invalid node status")

// ErrUnknownNode and ErrUnknownTask report a node or task ID the state does not hold.
var (
	ErrUnknownNode = errors.New("unknown node")
	ErrUnknownTask = errors.New("unknown task")
)

// pageSize nodes share one copy-on-write page: changing a node copies its
// page, not the whole cluster, so snapshots and plans stay cheap at 10,000 nodes.
const pageSize = 64

type page struct {
	node      [pageSize]*NodeInfo // nil: empty slot
	free      [pageSize]Resources
	capacity  [pageSize]Resources // NodeInfo.Capacity, here so that a scan need not follow node
	heartbeat [pageSize]int64     // unix nanoseconds of the last heartbeat
	down      [pageSize]bool      // NodeStatus.Down: down whatever the heartbeat time
	tasks     [pageSize][]Task
	groups    [pageSize][]groupCount // tasks per group on the node
	// maxFree is the most free of each resource over the page's nodes (not
	// necessarily one node's): a request it does not cover fits no node of
	// the page, so the planner skips the page. count is its number of nodes.
	maxFree Resources
	count   int
	downs   int // nodes marked down (NodeStatus.Down, SetDown)
	// memAtCPU[i] is the most free memory on a node of the page with at
	// least cpuLevels[i] free CPU: a request for c ≥ cpuLevels[i] CPU and
	// more memory than that fits no node of the page.
	memAtCPU [len(cpuLevels)]int64
	// minFreeShare is the most, over the page's nodes, of the smaller of a
	// node's free CPU and free memory as shares of its capacity (0 for a
	// resource it lacks): it bounds the scores of the page's nodes (scan.go).
	minFreeShare float64
	// site[j] is node[j].site for a node, so a scan need not follow node;
	// siteOf[j] is the node it was read from (summarize reads it again when
	// the node changes).
	site   [pageSize]int32
	siteOf [pageSize]*NodeInfo
}

// cpuLevels are the free-CPU thresholds (millicores) of page.memAtCPU.
var cpuLevels = [...]int64{0, 125, 250, 500, 1000, 2000, 4000, 8000}

// cpuLevel is the index of the largest level at most c.
func cpuLevel(c int64) int {
	i := 0
	for i+1 < len(cpuLevels) && cpuLevels[i+1] <= c {
		i++
	}
	return i
}

// summarize recomputes maxFree and count after a change.
func (pg *page) summarize() {
	var m Resources
	var mem [len(cpuLevels)]int64
	for i := range mem {
		mem[i] = -1
	}
	n, downs, share := 0, 0, 0.0
	for j := range pageSize {
		if pg.siteOf[j] != pg.node[j] {
			pg.siteOf[j], pg.site[j] = pg.node[j], -1
			if pg.node[j] != nil {
				pg.site[j] = pg.node[j].site
			}
		}
		if pg.node[j] == nil {
			continue
		}
		n++
		share = max(share, minFreeShare(&pg.free[j], &pg.capacity[j]))
		if pg.down[j] {
			downs++
		}
		f := pg.free[j]
		m = Resources{max(m.MilliCPU, f.MilliCPU), max(m.MemoryBytes, f.MemoryBytes), max(m.DiskBytes, f.DiskBytes), max(m.Accelerators, f.Accelerators)}
		for i := range cpuLevel(f.MilliCPU) + 1 {
			mem[i] = max(mem[i], f.MemoryBytes)
		}
	}
	pg.maxFree, pg.count, pg.memAtCPU, pg.downs, pg.minFreeShare = m, n, mem, downs, share
}

// minFreeShare is the smaller of free's CPU and memory as shares of
// capacity, 0 for a resource the node lacks.
func minFreeShare(free, capacity *Resources) float64 {
	if capacity.MilliCPU <= 0 || capacity.MemoryBytes <= 0 {
		return 0
	}
	return min(float64(free.MilliCPU)/float64(capacity.MilliCPU), float64(free.MemoryBytes)/float64(capacity.MemoryBytes))
}

type groupCount struct {
	group string
	n     int32
}

// State is the scheduler's mutable view of the cluster: nodes, their free
// resources and tasks. It is not safe for concurrent use; Snapshot freezes it
// cheaply (pages are shared and copied on the next write).
type State struct {
	pages      []*page
	owned      []bool           // pages[i] may be written in place
	index      map[string]int32 // node ID → slot
	indexOwned bool
	names      map[string]int32 // interned label pairs, zones, sites, accelerator kinds
	namesOwned bool
	freeSlots  []int32
	nodes      int
	// tasksOwned holds the slots whose task slice this state made since it
	// was last cloned, so addTask may append to it in place.
	tasksOwned map[int32]bool
}

// NewState returns an empty cluster state.
func NewState() *State {
	return &State{index: map[string]int32{}, indexOwned: true, names: map[string]int32{}, namesOwned: true}
}

// clone returns a state sharing all pages with s; both copy on write.
func (s *State) clone() *State {
	c := &State{
		pages: slices.Clone(s.pages), owned: make([]bool, len(s.pages)),
		index: s.index, names: s.names, freeSlots: slices.Clone(s.freeSlots), nodes: s.nodes,
	}
	for i, o := range s.owned { // only write when needed: snapshots are read concurrently
		if o {
			s.owned[i] = false
		}
	}
	if s.indexOwned {
		s.indexOwned = false
	}
	if s.namesOwned {
		s.namesOwned = false
	}
	if s.tasksOwned != nil {
		s.tasksOwned = nil
	}
	return c
}

func (s *State) writable(slot int32) (*page, int) {
	p, j := int(slot)/pageSize, int(slot)%pageSize
	if !s.owned[p] {
		cp := *s.pages[p]
		s.pages[p], s.owned[p] = &cp, true
	}
	return s.pages[p], j
}

func (s *State) at(slot int32) (*page, int) {
	return s.pages[int(slot)/pageSize], int(slot) % pageSize
}

func (s *State) intern(name string) int32 {
	if id, ok := s.names[name]; ok {
		return id
	}
	if !s.namesOwned {
		s.names, s.namesOwned = maps.Clone(s.names), true
	}
	id := int32(len(s.names))
	s.names[name] = id
	return id
}

func (s *State) lookup(name string) int32 {
	if id, ok := s.names[name]; ok {
		return id
	}
	return -1
}

func pairName(k, v string) string { return "l\x00" + k + "\x00" + v }

// UpsertNode adds the node or replaces everything known about it with st
// (a full heartbeat). It fails, naming the field, if st is invalid.
func (s *State) UpsertNode(st NodeStatus) error {
	if err := st.Validate("node"); err != nil {
		return err
	}
	info := s.newNodeInfo(&st)
	slot, ok := s.index[st.ID]
	if !ok {
		slot = s.newSlot(st.ID)
	}
	s.fill(slot, info, &st)
	return nil
}

// newNodeInfo is the node of st with its labels interned in s.
func (s *State) newNodeInfo(st *NodeStatus) *NodeInfo {
	info := &NodeInfo{
		ID: st.ID, Labels: maps.Clone(st.Labels), Capacity: st.Capacity.Sub(st.Reserved),
		AcceleratorKind: st.AcceleratorKind, Version: st.Version, zone: -1, site: -1, accKind: -1,
	}
	for k, v := range st.Labels {
		info.pairs = append(info.pairs, s.intern(pairName(k, v)))
	}
	slices.Sort(info.pairs)
	if z, ok := st.Labels[LabelZone]; ok {
		info.zone = s.intern("z\x00" + z)
	}
	if site, ok := st.Labels[LabelSite]; ok {
		info.site = s.intern("s\x00" + site)
	}
	if st.AcceleratorKind != "" {
		info.accKind = s.intern("a\x00" + st.AcceleratorKind)
	}
	return info
}

// fill writes the node info and the heartbeat, liveness and tasks of st
// (which fit: Validate checked) into slot.
func (s *State) fill(slot int32, info *NodeInfo, st *NodeStatus) {
	pg, j := s.writable(slot)
	pg.node[j] = info
	pg.heartbeat[j] = st.LastHeartbeat.UnixNano()
	pg.down[j] = st.Down
	pg.capacity[j] = info.Capacity
	setTasks(pg, j, st.Tasks)
	pg.summarize()
}

// setTasks replaces the tasks of slot j (which fit its capacity) with a copy
// of tasks, and recomputes its free resources and group counts.
func setTasks(pg *page, j int, tasks []Task) {
	pg.tasks[j], pg.groups[j] = nil, nil
	pg.free[j] = pg.capacity[j]
	if len(tasks) == 0 {
		return
	}
	// All tasks at once: one copy, one summary.
	pg.tasks[j] = slices.Clone(tasks)
	var groups []groupCount
	for _, t := range tasks {
		pg.free[j] = pg.free[j].Sub(t.request())
		if t.Group == "" {
			continue
		}
		groups = countGroup(groups, t.Group)
	}
	pg.groups[j] = groups
}

func (s *State) newSlot(id string) int32 {
	if !s.indexOwned {
		s.index, s.indexOwned = maps.Clone(s.index), true
	}
	var slot int32
	if n := len(s.freeSlots); n > 0 {
		slot, s.freeSlots = s.freeSlots[n-1], s.freeSlots[:n-1]
	} else { // a new page: take its first slot, keep the rest in ascending pop order
		slot = int32(len(s.pages) * pageSize)
		for k := int32(pageSize - 1); k >= 1; k-- {
			s.freeSlots = append(s.freeSlots, slot+k)
		}
		s.pages = append(s.pages, &page{})
		s.owned = append(s.owned, true)
	}
	s.index[id] = slot
	s.nodes++
	return slot
}

// RemoveNode forgets a node and returns the tasks it ran.
func (s *State) RemoveNode(id string) ([]Task, error) {
	slot, ok := s.index[id]
	if !ok {
		return nil, fmt.Errorf("remove node %q: %w", id, ErrUnknownNode)
	}
	pg, j := s.writable(slot)
	tasks := pg.tasks[j]
	*pg = clearSlot(*pg, j)
	pg.summarize()
	if !s.indexOwned {
		s.index, s.indexOwned = maps.Clone(s.index), true
	}
	delete(s.index, id)
	s.freeSlots = append(s.freeSlots, slot)
	s.nodes--
	return tasks, nil
}

func clearSlot(pg page, j int) page {
	pg.node[j], pg.free[j], pg.capacity[j], pg.heartbeat[j], pg.down[j], pg.tasks[j], pg.groups[j] = nil, Resources{}, Resources{}, 0, false, nil, nil
	return pg
}

// Heartbeat records that the node was alive at t.
func (s *State) Heartbeat(id string, t time.Time) error {
	slot, ok := s.index[id]
	if !ok {
		return fmt.Errorf("heartbeat from %q: %w", id, ErrUnknownNode)
	}
	pg, j := s.writable(slot)
	pg.heartbeat[j] = t.UnixNano()
	return nil
}

// Finish removes a task that ended from its node, releasing its resources.
func (s *State) Finish(nodeID, taskID string) error {
	slot, ok := s.index[nodeID]
	if !ok {
		return fmt.Errorf("finish %q on %q: %w", taskID, nodeID, ErrUnknownNode)
	}
	if _, ok := s.removeTask(slot, taskID); !ok {
		return fmt.Errorf("finish %q on %q: %w", taskID, nodeID, ErrUnknownTask)
	}
	return nil
}

// addTask puts t on the node in slot; the caller checked that it fits.
func (s *State) addTask(slot int32, t Task) {
	pg, j := s.writable(slot)
	if !s.tasksOwned[slot] { // shared with a snapshot: copy it once, with room
		pg.tasks[j] = append(make([]Task, 0, len(pg.tasks[j])+1+len(pg.tasks[j])/4), pg.tasks[j]...)
		if s.tasksOwned == nil {
			s.tasksOwned = map[int32]bool{}
		}
		s.tasksOwned[slot] = true
	}
	pg.tasks[j] = append(pg.tasks[j], t)
	pg.free[j] = pg.free[j].Sub(t.request())
	pg.summarize()
	if t.Group != "" {
		pg.groups[j] = countGroup(slices.Clone(pg.groups[j]), t.Group)
	}
}

// countGroup adds one task of group to gs, in place: callers pass a copy
// when gs is shared with a snapshot.
func countGroup(gs []groupCount, group string) []groupCount {
	k := slices.IndexFunc(gs, func(g groupCount) bool { return g.group == group })
	if k < 0 {
		gs = append(gs, groupCount{group: group})
		k = len(gs) - 1
	}
	gs[k].n++
	return gs
}

func (s *State) removeTask(slot int32, taskID string) (Task, bool) {
	rp, rj := s.at(slot)
	k := slices.IndexFunc(rp.tasks[rj], func(t Task) bool { return t.ID == taskID })
	if k < 0 {
		return Task{}, false
	}
	pg, j := s.writable(slot)
	t := pg.tasks[j][k]
	pg.tasks[j] = slices.Delete(slices.Clone(pg.tasks[j]), k, k+1)
	pg.free[j] = pg.free[j].Add(t.request())
	pg.summarize()
	if t.Group != "" {
		gs := slices.Clone(pg.groups[j])
		g := slices.IndexFunc(gs, func(g groupCount) bool { return g.group == t.Group })
		if gs[g].n--; gs[g].n == 0 {
			gs = slices.Delete(gs, g, g+1)
		}
		pg.groups[j] = gs
	}
	return t, true
}

func groupOn(pg *page, j int, group string) int32 {
	for _, g := range pg.groups[j] {
		if g.group == group {
			return g.n
		}
	}
	return 0
}

// ErrStalePlan reports a plan that no longer fits the state it is applied to:
// a node is gone or lacks the resources; plan again from a fresh snapshot.
var ErrStalePlan = errors.New("stale plan")

// Apply carries out a plan: removes preempted tasks and tasks moved off down
// nodes, and places tasks. It changes nothing and wraps ErrStalePlan if any
// step does not fit.
func (s *State) Apply(p *Plan) error {
	w := s.clone()
	for _, pre := range p.Preemptions {
		slot, ok := w.index[pre.NodeID]
		if !ok {
			return fmt.Errorf("apply: preempt %q on %q: %w: %w", pre.Task.ID, pre.NodeID, ErrUnknownNode, ErrStalePlan)
		}
		if _, ok := w.removeTask(slot, pre.Task.ID); !ok {
			return fmt.Errorf("apply: preempt %q on %q: %w: %w", pre.Task.ID, pre.NodeID, ErrUnknownTask, ErrStalePlan)
		}
	}
	release := func(from, taskID string) {
		if slot, ok := w.index[from]; ok && from != "" {
			w.removeTask(slot, taskID) // gone already is fine: the node may have been reset
		}
	}
	for _, wt := range p.Waiting {
		release(wt.From, wt.Task.ID)
	}
	for _, pl := range p.Placements {
		release(pl.From, pl.Task.ID)
	}
	for _, pl := range p.Placements {
		slot, ok := w.index[pl.NodeID]
		if !ok {
			return fmt.Errorf("apply: place %q on %q: %w: %w", pl.Task.ID, pl.NodeID, ErrUnknownNode, ErrStalePlan)
		}
		pg, j := w.at(slot)
		if !pg.free[j].Covers(pl.Task.request()) {
			return fmt.Errorf("apply: place %q (%v) on %q (free %v): %w", pl.Task.ID, pl.Task.request(), pl.NodeID, pg.free[j], ErrStalePlan)
		}
		w.addTask(slot, pl.Task)
	}
	*s = *w
	return nil
}

// Snapshot freezes the state at now: nodes whose last heartbeat is older than
// heartbeatTimeout are down (0: no node is ever down).
func (s *State) Snapshot(now time.Time, heartbeatTimeout time.Duration) *Snapshot {
	return &Snapshot{st: s.clone(), now: now.UnixNano(), timeout: int64(heartbeatTimeout)}
}

// Snapshot is an immutable view of the cluster at one moment; planners read it
// concurrently.
type Snapshot struct {
	st      *State
	now     int64
	timeout int64
}

// Now is the moment the snapshot describes.
func (sn *Snapshot) Now() time.Time { return time.Unix(0, sn.now) }

// Len is the number of nodes, up or down.
func (sn *Snapshot) Len() int { return sn.st.nodes }

func (sn *Snapshot) down(pg *page, j int) bool {
	return pg.down[j] || sn.timeout > 0 && sn.now-pg.heartbeat[j] > sn.timeout
}

// Node returns the status of a node, with Capacity and Reserved folded into
// Capacity, and whether it is up.
func (sn *Snapshot) Node(id string) (st NodeStatus, free Resources, up bool, err error) {
	slot, ok := sn.st.index[id]
	if !ok {
		return NodeStatus{}, Resources{}, false, fmt.Errorf("node %q: %w", id, ErrUnknownNode)
	}
	pg, j := sn.st.at(slot)
	n := pg.node[j]
	st = NodeStatus{
		ID: n.ID, Labels: maps.Clone(n.Labels), Capacity: n.Capacity, AcceleratorKind: n.AcceleratorKind,
		Tasks: slices.Clone(pg.tasks[j]), Version: n.Version, LastHeartbeat: time.Unix(0, pg.heartbeat[j]), Down: pg.down[j],
	}
	return st, pg.free[j], !sn.down(pg, j), nil
}

// NodeIDs lists the nodes in snapshot order (the order ties are broken in).
func (sn *Snapshot) NodeIDs() []string {
	var ids []string
	sn.each(func(pg *page, j int, _ int32) { ids = append(ids, pg.node[j].ID) })
	return ids
}

func (sn *Snapshot) each(f func(pg *page, j int, slot int32)) {
	for p, pg := range sn.st.pages {
		for j := range pageSize {
			if pg.node[j] != nil {
				f(pg, j, int32(p*pageSize+j))
			}
		}
	}
}

// Totals sums capacity and free resources over the nodes that are up.
func (sn *Snapshot) Totals() (capacity, free Resources) {
	sn.each(func(pg *page, j int, _ int32) {
		if !sn.down(pg, j) {
			capacity, free = capacity.Add(pg.node[j].Capacity), free.Add(pg.free[j])
		}
	})
	return capacity, free
}

// Orphans lists the tasks on down nodes, which the planner moves.
func (sn *Snapshot) Orphans() []Placement {
	var out []Placement
	for _, pg := range sn.st.pages {
		if sn.timeout <= 0 && pg.downs == 0 {
			continue // no node of the page is down
		}
		for j := range pageSize {
			if pg.node[j] != nil && sn.down(pg, j) {
				for _, t := range pg.tasks[j] {
					out = append(out, Placement{Task: t, NodeID: pg.node[j].ID})
				}
			}
		}
	}
	return out
}

// ForEachNode calls f for every node in snapshot order with its free resources
// and whether it is up. f must not modify n.
func (sn *Snapshot) ForEachNode(f func(n *NodeInfo, free Resources, up bool)) {
	sn.each(func(pg *page, j int, _ int32) { f(pg.node[j], pg.free[j], !sn.down(pg, j)) })
}
