package schedule

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/placement"
)

// The scheduler keeps the placement.State it plans on between rounds, in the
// manner of Nomad's state store: each change (a node seen for the first time,
// new capacity or labels, going down or up, a task assigned to or taken off a
// node) rewrites that node's page of the state, and the snapshot a round plans
// on shares every other page with the rounds before. The state always equals
// the one rebuilt from scratch (rebuildState) from the tracker's nodes and the
// assignments, so the plans are the same: nodes in ID order, each with the
// capacity and labels of its latest heartbeat, marked down as the tracker
// sees it, and the tasks assigned to it that fit, highest priority first,
// then by id.

// nodeRecord is what the kept state holds about one node.
type nodeRecord struct {
	capacity placement.Resources
	labels   map[string]string
	accKind  string
	version  string
	up       bool
	tasks    map[string]struct{} // ids of the tasks assigned to it; nil until one is
}

func recordOf(v cloud.NodeView) *nodeRecord {
	hb := v.Heartbeat
	r := &nodeRecord{labels: hb.Labels, version: hb.Version, up: v.Up, capacity: capacityOf(v)}
	if len(hb.Accelerators) > 0 {
		r.accKind = hb.Accelerators[0].Kind
	}
	return r
}

func capacityOf(v cloud.NodeView) placement.Resources {
	c := v.Heartbeat.Capacity
	return placement.Resources{MilliCPU: c.MilliCPU, MemoryBytes: c.MemoryBytes, DiskBytes: c.DiskBytes, Accelerators: c.Accelerators}
}

// sameShape reports whether the node as placement sees it is unchanged in v.
// A heartbeat that changes only the version does not change
// NodeTracker.Changes, so the state takes a new version at the next
// comparison of the nodes; no built-in filter reads it.
func (r *nodeRecord) sameShape(v cloud.NodeView) bool {
	hb := v.Heartbeat
	accKind := ""
	if len(hb.Accelerators) > 0 {
		accKind = hb.Accelerators[0].Kind
	}
	return r.capacity == capacityOf(v) && r.accKind == accKind && r.version == hb.Version && maps.Equal(r.labels, hb.Labels)
}

// status is the node as the state holds it, without its tasks. Liveness is
// the tracker's (Down); the snapshot has no heartbeat timeout.
func (r *nodeRecord) status(id string) placement.NodeStatus {
	return placement.NodeStatus{ID: id, Labels: r.labels, Capacity: r.capacity, AcceleratorKind: r.accKind,
		Version: r.version, Down: !r.up}
}

// assign records task id as running on node. Under mu.
func (s *Scheduler) assign(id, node string) {
	s.unassign(id)
	s.assigned[id] = node
	delete(s.unplaced, id)
	if r := s.nodes[node]; r != nil {
		if r.tasks == nil {
			r.tasks = map[string]struct{}{}
		}
		r.tasks[id] = struct{}{}
	}
	s.touched[node], s.toWrite[node] = struct{}{}, struct{}{}
}

// unassign takes task id off its node, if any; a task still submitted is
// placed again. Under mu.
func (s *Scheduler) unassign(id string) {
	if _, ok := s.tasks[id]; ok {
		s.unplaced[id] = struct{}{}
	}
	node, ok := s.assigned[id]
	if !ok {
		return
	}
	delete(s.assigned, id)
	if r := s.nodes[node]; r != nil {
		delete(r.tasks, id)
	}
	s.touched[node], s.toWrite[node] = struct{}{}, struct{}{}
}

// nodeTasks is the tasks the state holds for a node: those assigned to it that
// fit its capacity, highest priority first, then by id. Those that do not fit
// are unassigned. Under mu.
func (s *Scheduler) nodeTasks(node string, r *nodeRecord) []placement.Task {
	tasks := make([]placement.Task, 0, len(r.tasks))
	for _, id := range slices.Sorted(maps.Keys(r.tasks)) {
		tasks = append(tasks, s.placements[id])
	}
	return s.fitting(node, r.capacity, tasks)
}

// fitting returns the tasks assigned to node that fit its capacity, highest
// priority first (a stable sort: ties keep their order); the rest are
// unassigned and placed again. Under mu.
func (s *Scheduler) fitting(node string, capacity placement.Resources, tasks []placement.Task) []placement.Task {
	slices.SortStableFunc(tasks, func(a, b placement.Task) int { return cmp.Compare(b.Priority, a.Priority) })
	var used placement.Resources
	out := tasks[:0]
	for _, t := range tasks {
		req := t.Request
		if t.Constraints.Accelerator != "" && req.Accelerators == 0 {
			req.Accelerators = 1
		}
		if !capacity.Covers(used.Add(req)) {
			s.cfg.Logger.Warn("task no longer fits its node", "task", t.ID, "node", node)
			s.unassign(t.ID)
			continue
		}
		used = used.Add(req)
		out = append(out, t)
	}
	return out
}

// trackerLiveness appends whether each node of the tracker is up at now, in
// the tracker's own order, to buf[:0]. Nodes only go up or down without a
// change of NodeTracker.Changes by time passing (before the tracker's Check
// notices), so comparing this with the last round's tells whether any did.
func trackerLiveness(tr *cloud.NodeTracker, now time.Time, buf []bool) []bool {
	buf = buf[:0]
	tr.Snapshot(now).ForEachNode(func(_ *placement.NodeInfo, _ placement.Resources, up bool) { buf = append(buf, up) })
	return buf
}

// syncState brings the kept state up to date at now: the nodes, if the
// tracker saw a change or a node went up or down with time, then the nodes
// whose tasks changed. It rebuilds the state if there is none. Under mu.
func (s *Scheduler) syncState(now time.Time, seen uint64) {
	live := trackerLiveness(s.cfg.Tracker, now, s.liveBuf)
	changed := !slices.Equal(live, s.live)
	s.live, s.liveBuf = live, s.live // two buffers, used in turn
	if s.state == nil {
		s.rebuildState(now)
		return
	}
	if seen != s.nodesSynced || s.resync || changed {
		s.nodesSynced, s.resync = seen, false
		for _, v := range s.cfg.Tracker.Nodes(now) {
			id := v.Heartbeat.NodeID
			switch old := s.nodes[id]; {
			case old == nil: // first heard of: its place in ID order, no tasks yet
				r := recordOf(v)
				if err := s.state.UpsertNodeInIDOrder(r.status(id)); err != nil {
					s.cfg.Logger.Warn("node left out of the round", "node", id, "error", err)
					s.resync = true
					continue
				}
				s.nodes[id] = r
				s.toWrite[id] = struct{}{}
			case !old.sameShape(v):
				r := recordOf(v)
				r.tasks = old.tasks
				if err := s.state.UpsertNode(r.status(id)); err != nil { // tasks follow (touched)
					s.cfg.Logger.Warn("node left out of the round", "node", id, "error", err)
					s.resync = true
					continue
				}
				s.nodes[id] = r
				s.touched[id] = struct{}{}
			case old.up != v.Up:
				old.up = v.Up
				_ = s.state.SetDown(id, !v.Up) // the node is in the state
			}
		}
	}
	s.applyTouched()
}

// applyTouched writes the tasks of every node whose set changed into the
// kept state. It reports whether a task was unassigned (it did not fit).
// Under mu.
func (s *Scheduler) applyTouched() (unassigned bool) {
	for len(s.touched) > 0 {
		for _, node := range slices.Sorted(maps.Keys(s.touched)) {
			delete(s.touched, node)
			r := s.nodes[node]
			if r == nil {
				continue
			}
			before := len(r.tasks)
			tasks := s.nodeTasks(node, r)
			unassigned = unassigned || len(tasks) < before
			if err := s.state.SetTasks(node, tasks); err != nil {
				// An invalid task: leave the node without tasks, as a rebuild
				// leaves out a node it cannot add; they are placed again.
				s.cfg.Logger.Warn("tasks taken off their node", "node", node, "error", err)
				for _, t := range tasks {
					s.unassign(t.ID)
				}
				_ = s.state.SetTasks(node, nil)
				delete(s.touched, node)
				unassigned = true
			}
		}
	}
	return unassigned
}

// rebuildState builds the kept state from scratch: every node the tracker
// knows at now, in ID order, with the tasks assigned to it that fit. Tasks
// assigned to a node it does not know are unassigned. Under mu.
func (s *Scheduler) rebuildState(now time.Time) {
	s.state, s.nodes = placement.NewState(), map[string]*nodeRecord{}
	s.touched, s.toWrite, s.unplaced = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	s.nodesSynced, s.resync = s.cfg.Tracker.Changes(), false
	byNode := map[string][]string{}
	for _, id := range slices.Sorted(maps.Keys(s.assigned)) {
		if _, ok := s.tasks[id]; !ok { // recovered for a task deleted since
			delete(s.assigned, id)
			continue
		}
		byNode[s.assigned[id]] = append(byNode[s.assigned[id]], id)
	}
	for _, v := range s.cfg.Tracker.Nodes(now) {
		id := v.Heartbeat.NodeID
		r := recordOf(v)
		if len(byNode[id]) > 0 {
			r.tasks = map[string]struct{}{}
		}
		for _, t := range byNode[id] {
			r.tasks[t] = struct{}{}
		}
		s.nodes[id] = r
		st := r.status(id)
		st.Tasks = s.nodeTasks(id, r)
		if err := s.state.UpsertNode(st); err != nil {
			s.cfg.Logger.Warn("node left out of the round", "node", id, "error", err)
			delete(s.nodes, id)
			for _, t := range st.Tasks {
				s.unassign(t.ID)
			}
			s.resync = true // added again at the next round, without them
		}
	}
	for id := range s.tasks {
		if node, ok := s.assigned[id]; !ok || s.nodes[node] == nil {
			delete(s.assigned, id)
			s.unplaced[id] = struct{}{}
		}
	}
	clear(s.touched)
	for n := range s.nodes {
		s.toWrite[n] = struct{}{}
	}
	for n := range s.published {
		s.toWrite[n] = struct{}{}
	}
}
