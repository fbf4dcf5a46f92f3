// Package schedule is edgeflow's scheduler: it decides which edge node runs
// which task and tells the nodes. It is its own process (edgeflow schedule), not
// a pipeline stage: a stage turns one message into others, while the scheduler
// joins three topics, keeps state between them and acts on timers (a node that
// stops sending heartbeats), so the stage shape does not fit.
//
// Data flows like this: tasks arrive on edgeflow.tasks (fleet.Task keyed by id,
// an empty record deleting one), heartbeats on edgeflow.heartbeats feed a
// cloud.NodeTracker. Each round (on a change, a node going up or down, and every
// second) the Scheduler freezes the nodes into a placement.Snapshot, capacity
// minus the requests of the tasks assigned to each (from a placement.State it
// keeps between rounds and updates with the nodes and tasks that changed,
// copy on write, equal to the state rebuilt from scratch), asks the placement.Planner
// (one of placement.AlgorithmNames, e.g. best-fit or balanced; preemption if enabled) where the tasks
// not running anywhere go, moving the tasks of down nodes, and writes the full
// set of tasks of every node whose set changed to edgeflow.assignments, keyed by
// the node id, through an AssignmentWriter. Tasks no node can take wait, with the
// reason from the placement filters. At start it reads the assignments written
// before, so a restarted scheduler leaves running tasks where they are.
// docs/scheduling.md describes the whole flow.
package schedule
