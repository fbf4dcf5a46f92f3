package placement

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// The updates below let a long-lived State follow a cluster one change at a
// time (Nomad's state store does the same with its immutable snapshots): each
// writes only the page of the node it changes, so a Snapshot taken before
// keeps what it saw and one taken after shares every other page.

// ErrNotInIDOrder reports a state whose nodes do not fill its first slots in
// ID order, which UpsertNodeInIDOrder needs.
var ErrNotInIDOrder = errors.New("nodes not in ID order")

// SetDown marks the node down (or up again) whatever its heartbeat time; the
// snapshot also counts it down if its heartbeat is older than the timeout.
func (s *State) SetDown(id string, down bool) error {
	slot, ok := s.index[id]
	if !ok {
		return fmt.Errorf("set down %q: %w", id, ErrUnknownNode)
	}
	if rp, rj := s.at(slot); rp.down[rj] == down {
		return nil // unchanged: keep sharing the page
	}
	pg, j := s.writable(slot)
	pg.down[j] = down
	pg.summarize()
	return nil
}

// SetTasks replaces the tasks of a node, in the given order (the order in
// which the planner considers them, e.g. to move them off a down node). It
// fails, naming the task or the node, if a task is invalid or they do not fit
// in the node's capacity; the state is then unchanged.
func (s *State) SetTasks(id string, tasks []Task) error {
	slot, ok := s.index[id]
	if !ok {
		return fmt.Errorf("set tasks of %q: %w", id, ErrUnknownNode)
	}
	rp, rj := s.at(slot)
	st := NodeStatus{ID: id, Capacity: rp.capacity[rj], Tasks: tasks}
	if err := st.Validate("node"); err != nil {
		return fmt.Errorf("set tasks: %w", err)
	}
	pg, j := s.writable(slot)
	setTasks(pg, j, tasks)
	pg.summarize()
	return nil
}

// UpsertNodeInIDOrder is UpsertNode, except that a new node goes to the slot
// its ID sorts to, and the nodes after it move up one slot. A state whose
// nodes were all added in ID order (by UpsertNode or this method) and none
// removed stays exactly as NewState and UpsertNode of its nodes in ID order
// would build it, and so plans the same; the snapshot order (ties, the start
// of a bounded search) is the order of node IDs. It fails with
// ErrNotInIDOrder, changing nothing, if a node was removed.
func (s *State) UpsertNodeInIDOrder(st NodeStatus) error {
	if _, ok := s.index[st.ID]; ok {
		return s.UpsertNode(st)
	}
	if err := st.Validate("node"); err != nil {
		return err
	}
	top := int32(len(s.pages) * pageSize)
	if len(s.freeSlots) != int(top)-s.nodes {
		return fmt.Errorf("add node %q: %w", st.ID, ErrNotInIDOrder)
	}
	for i, slot := range s.freeSlots { // a filled prefix pops its free slots in ascending order
		if slot != top-1-int32(i) {
			return fmt.Errorf("add node %q: %w", st.ID, ErrNotInIDOrder)
		}
	}
	at := int32(sort.Search(s.nodes, func(i int) bool {
		pg, j := s.at(int32(i))
		return pg.node[j].ID > st.ID
	}))
	info := s.newNodeInfo(&st)
	s.tasksOwned = nil       // task slices change slots
	last := s.newSlot(st.ID) // the first free slot: s.nodes before the call
	for slot := last; slot > at; slot-- {
		dst, dj := s.writable(slot)
		src, sj := s.at(slot - 1)
		dst.node[dj], dst.free[dj], dst.capacity[dj] = src.node[sj], src.free[sj], src.capacity[sj]
		dst.heartbeat[dj], dst.down[dj], dst.tasks[dj], dst.groups[dj] = src.heartbeat[sj], src.down[sj], src.tasks[sj], src.groups[sj]
		s.index[dst.node[dj].ID] = slot
		if slot%pageSize == 0 {
			dst.summarize() // a page above at's, all of it moved; fill summarizes at's
		}
	}
	s.index[st.ID] = at
	s.fill(at, info, &st)
	return nil
}

// Diff describes the first way o differs from sn, or returns "" if both hold
// the same nodes in the same slots (labels, capacity, accelerator kind,
// version, heartbeat, liveness flag, free resources, tasks in order) and
// were taken at the same moment with the same timeout: then every plan over
// one equals the plan over the other. For tests of code that keeps a State
// up to date, against one rebuilt from scratch.
func (sn *Snapshot) Diff(o *Snapshot) string {
	a, b := sn.st, o.st
	switch {
	case sn.now != o.now || sn.timeout != o.timeout:
		return fmt.Sprintf("taken at %d with timeout %d, not %d with %d", sn.now, sn.timeout, o.now, o.timeout)
	case a.nodes != b.nodes:
		return fmt.Sprintf("%d nodes, not %d", a.nodes, b.nodes)
	case len(a.pages) != len(b.pages):
		return fmt.Sprintf("%d pages, not %d", len(a.pages), len(b.pages))
	case !slices.Equal(a.freeSlots, b.freeSlots):
		return fmt.Sprintf("free slots %v, not %v", a.freeSlots, b.freeSlots)
	case !maps.Equal(a.index, b.index):
		return "node index differs"
	}
	aNames, bNames := names(a), names(b)
	for p := range a.pages {
		pa, pb := a.pages[p], b.pages[p]
		for j := range pageSize {
			where := fmt.Sprintf("slot %d", p*pageSize+j)
			if pa.node[j] == nil || pb.node[j] == nil {
				if pa.node[j] != pb.node[j] {
					return where + ": a node in one only"
				}
				continue
			}
			where += " (" + pa.node[j].ID + ")"
			if d := diffNode(pa.node[j], pb.node[j], aNames, bNames); d != "" {
				return where + ": " + d
			}
			switch {
			case pa.free[j] != pb.free[j] || pa.capacity[j] != pb.capacity[j]:
				return fmt.Sprintf("%s: free %v of %v, not %v of %v", where, pa.free[j], pa.capacity[j], pb.free[j], pb.capacity[j])
			case pa.heartbeat[j] != pb.heartbeat[j] || pa.down[j] != pb.down[j]:
				return fmt.Sprintf("%s: heartbeat %d down %v, not %d down %v", where, pa.heartbeat[j], pa.down[j], pb.heartbeat[j], pb.down[j])
			case !slices.EqualFunc(pa.tasks[j], pb.tasks[j], sameTask):
				return fmt.Sprintf("%s: tasks %v, not %v", where, taskIDs(pa.tasks[j]), taskIDs(pb.tasks[j]))
			case !sameGroups(pa.groups[j], pb.groups[j]):
				return fmt.Sprintf("%s: groups %v, not %v", where, pa.groups[j], pb.groups[j])
			}
		}
		if pa.maxFree != pb.maxFree || pa.count != pb.count || pa.downs != pb.downs || pa.memAtCPU != pb.memAtCPU || pa.minFreeShare != pb.minFreeShare {
			return fmt.Sprintf("page %d: summary differs", p)
		}
	}
	return ""
}

// names maps the interned ids of s back to their names.
func names(s *State) []string {
	out := make([]string, len(s.names))
	for name, id := range s.names {
		out[id] = name
	}
	return out
}

func diffNode(a, b *NodeInfo, aNames, bNames []string) string {
	name := func(names []string, id int32) string {
		if id < 0 {
			return ""
		}
		return names[id]
	}
	pairs := func(names []string, ids []int32) []string {
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			out = append(out, names[id])
		}
		slices.Sort(out)
		return out
	}
	switch {
	case a.ID != b.ID:
		return "node " + b.ID + " in the other"
	case !maps.Equal(a.Labels, b.Labels) || !slices.Equal(pairs(aNames, a.pairs), pairs(bNames, b.pairs)):
		return fmt.Sprintf("labels %v, not %v", a.Labels, b.Labels)
	case name(aNames, a.zone) != name(bNames, b.zone) || name(aNames, a.site) != name(bNames, b.site) || name(aNames, a.accKind) != name(bNames, b.accKind):
		return "interned zone, site or accelerator kind differs"
	case a.Capacity != b.Capacity || a.AcceleratorKind != b.AcceleratorKind || a.Version != b.Version:
		return fmt.Sprintf("capacity %v kind %q version %q, not %v %q %q", a.Capacity, a.AcceleratorKind, a.Version, b.Capacity, b.AcceleratorKind, b.Version)
	}
	return ""
}

func sameTask(a, b Task) bool {
	return a.ID == b.ID && a.Group == b.Group && a.Request == b.Request && a.Priority == b.Priority && a.Duration == b.Duration &&
		maps.Equal(a.Constraints.RequiredLabels, b.Constraints.RequiredLabels) && a.Constraints.NearSite == b.Constraints.NearSite &&
		a.Constraints.Accelerator == b.Constraints.Accelerator && a.Constraints.Spread == b.Constraints.Spread
}

func sameGroups(a, b []groupCount) bool {
	byName := func(gs []groupCount) []groupCount {
		gs = slices.Clone(gs)
		slices.SortFunc(gs, func(x, y groupCount) int { return strings.Compare(x.group, y.group) })
		return gs
	}
	return slices.Equal(byName(a), byName(b))
}

func taskIDs(tasks []Task) []string {
	out := make([]string, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, t.ID)
	}
	return out
}
