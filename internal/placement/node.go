package placement

import (
	"fmt"
	"slices"
	"time"
)

// NodeStatus is what a node reports in its heartbeat.
type NodeStatus struct {
	ID     string
	Labels map[string]string // e.g. site, zone, arch
	// Capacity is what the node has; Reserved is what it keeps for itself and
	// for work edgeflow does not place. Free is Capacity - Reserved - the
	// requests of Tasks.
	Capacity        Resources
	Reserved        Resources
	AcceleratorKind string // kind of its accelerators ("npu", "gpu"), "" for none
	Tasks           []Task // tasks it runs
	Version         string // edgeflow version the node runs
	LastHeartbeat   time.Time
	// Down marks the node down whatever LastHeartbeat says (it said it
	// stops, or whoever tracks its heartbeats decided so); a snapshot also
	// counts a node down whose LastHeartbeat is older than its timeout.
	Down bool
}

// Validate returns an error naming the field of n that is wrong, prefixed by
// where (e.g. "nodes[2]").
func (n *NodeStatus) Validate(where string) error {
	if n.ID == "" {
		return fmt.Errorf("%s.id: empty: %w", where, ErrInvalidNode)
	}
	if !n.Capacity.negative() && !n.Reserved.negative() {
		if used, ok := fitTasks(n.Capacity.Sub(n.Reserved), n.Tasks); ok {
			return nil // the common case, without formatting where
		} else if err := n.tasksError(where, used); err != nil {
			return err
		}
	}
	where = fmt.Sprintf("%s (%s)", where, n.ID)
	if err := n.Capacity.validate(where + ".capacity"); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalidNode)
	}
	if err := n.Reserved.validate(where + ".reserved"); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalidNode)
	}
	used, _ := fitTasks(n.Capacity.Sub(n.Reserved), n.Tasks)
	return n.tasksError(where, used)
}

// fitTasks sums the requests of tasks and reports whether they are all valid
// and fit in room.
func fitTasks(room Resources, tasks []Task) (used Resources, ok bool) {
	ok = true
	for i := range tasks {
		if tasks[i].Validate("") != nil {
			ok = false
		}
		used = used.Add(tasks[i].request())
	}
	return used, ok && room.Covers(used)
}

// tasksError names the first invalid task of n, or says that the requests
// used and Reserved exceed Capacity; nil if neither.
func (n *NodeStatus) tasksError(where string, used Resources) error {
	where = fmt.Sprintf("%s (%s)", where, n.ID)
	for i := range n.Tasks {
		if err := n.Tasks[i].Validate(fmt.Sprintf("%s.tasks[%d]", where, i)); err != nil {
			return err
		}
	}
	if all := n.Reserved.Add(used); !n.Capacity.Covers(all) {
		return fmt.Errorf("%s: reserved and task requests (%v) exceed capacity (%v): %w", where, all, n.Capacity, ErrInvalidNode)
	}
	return nil
}

// NodeInfo is the read-only view of a node that filters and scorers see.
type NodeInfo struct {
	ID              string
	Labels          map[string]string // do not modify
	Capacity        Resources         // minus Reserved: what tasks may use
	AcceleratorKind string
	Version         string

	pairs   []int32 // interned "key=value" label ids, sorted
	zone    int32   // interned zone value, -1 for none
	site    int32   // interned site value, -1 for none
	accKind int32   // interned accelerator kind, -1 for none
}

func (n *NodeInfo) hasPair(id int32) bool {
	_, ok := slices.BinarySearch(n.pairs, id)
	return ok
}
