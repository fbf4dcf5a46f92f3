package schedule

import (
	"fmt"
	"iter"
	"maps"
	"slices"
)

// assignmentShards is how many parts an AssignmentMap is cut into: a round
// copies the parts holding a node whose set changed, not the whole map.
const assignmentShards = 256

// AssignmentMap is every node's task ids (by id) after a round. Rounds share
// its unchanged parts, as the placement state shares its pages, so a report's
// map stays as it was; do not modify the slices it returns. The zero value is
// empty.
type AssignmentMap struct {
	shards *[assignmentShards]map[string][]string
	nodes  int
}

func shardOf(node string) int {
	h := uint32(2166136261) // FNV-1a
	for i := range len(node) {
		h = (h ^ uint32(node[i])) * 16777619
	}
	return int(h % assignmentShards)
}

// Of returns the ids of the tasks assigned to node, nil for none.
func (m AssignmentMap) Of(node string) []string {
	if m.shards == nil {
		return nil
	}
	return m.shards[shardOf(node)][node]
}

// Len is the number of nodes with at least one task.
func (m AssignmentMap) Len() int { return m.nodes }

// All yields every node with at least one task and its task ids, by node id.
func (m AssignmentMap) All() iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		if m.shards == nil {
			return
		}
		var nodes []string
		for _, sh := range m.shards {
			for n := range sh {
				nodes = append(nodes, n)
			}
		}
		slices.Sort(nodes)
		for _, n := range nodes {
			if !yield(n, m.shards[shardOf(n)][n]) {
				return
			}
		}
	}
}

// assignmentMapWriter makes a changed copy of an AssignmentMap, copying each
// part it changes once.
type assignmentMapWriter struct {
	m      AssignmentMap
	copied [assignmentShards]bool
	own    bool // m.shards is a copy
}

// set makes ids the tasks of node (none: remove it).
func (w *assignmentMapWriter) set(node string, ids []string) {
	if !w.own {
		shards := new([assignmentShards]map[string][]string)
		if w.m.shards != nil {
			*shards = *w.m.shards
		}
		w.m.shards, w.own = shards, true
	}
	k := shardOf(node)
	if !w.copied[k] {
		w.m.shards[k], w.copied[k] = maps.Clone(w.m.shards[k]), true
	}
	sh := w.m.shards[k]
	_, had := sh[node]
	switch {
	case len(ids) > 0 && sh == nil:
		w.m.shards[k] = map[string][]string{node: ids}
		w.m.nodes++
	case len(ids) > 0:
		sh[node] = ids
		if !had {
			w.m.nodes++
		}
	case had:
		delete(sh, node)
		w.m.nodes--
		if len(sh) == 0 {
			w.m.shards[k] = nil // as if never set: equal maps are equal values
		}
	}
}

// result is the changed map; never one without parts, so it tells a round
// that planned from none.
func (w *assignmentMapWriter) result() AssignmentMap {
	if w.m.shards == nil {
		w.m.shards = new([assignmentShards]map[string][]string)
	}
	return w.m
}

// String formats m like a map: map[n1:[a b] n2:[c]].
func (m AssignmentMap) String() string {
	all := map[string][]string{}
	for n, ids := range m.All() {
		all[n] = ids
	}
	return fmt.Sprint(all)
}
