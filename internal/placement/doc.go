// Package placement decides which edge node runs which task (a pipeline
// instance). It is a pure decision core in the style of Nomad's scheduler: a
// Planner takes an immutable Snapshot of the nodes and a list of pending tasks
// and returns a Plan, and nothing else happens; the caller commits the plan.
//
// Data flows like this: node heartbeats (capacity, labels, running tasks, the
// time they were sent) update a State; State.Snapshot freezes it at a moment,
// marking nodes whose last heartbeat is older than the timeout as down. The
// Planner then places the tasks of down nodes and the pending tasks, highest
// priority first. For each task it runs the feasibility filters shared by every
// algorithm (node up, free CPU, memory, disk and accelerators, required labels,
// accelerator kind, anti-affinity per node, spread across zones), ranks the
// feasible nodes with the algorithm's Scorer (greedy, random, best-fit,
// balanced, and the vector bin-packing scores dot-product, norm-fit and
// most-allocated), prefers nodes at the task's site when it names one, and takes the
// best; ties go to the node that comes first in the snapshot. A task no node can
// take waits, and the plan says why ("0/12 nodes: 9 insufficient memory, 3
// down"); with preemption enabled a task may instead evict lower-priority tasks.
// Capacity is never overcommitted. Random choices come from a seed, so the same
// snapshot, tasks and seed always give the same plan.
//
// A State lives as long as its caller likes and follows the cluster one change
// at a time (UpsertNode, UpsertNodeInIDOrder, SetDown, SetTasks, Apply): each
// write copies only the page of 64 nodes it changes, in the manner of Nomad's
// state store, so a Snapshot taken before keeps what it saw while the next one
// shares every other page. Snapshot.Diff tells a kept state from one rebuilt
// from scratch, for tests.
//
// Side effects stay behind the two-method Cluster interface (Snapshot, Commit);
// MemoryCluster implements it over a State for tests and the simulation in
// package placement/placementsim.
package placement
