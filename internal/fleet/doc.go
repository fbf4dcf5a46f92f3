// Package fleet holds the records edge nodes and the cloud exchange to run a
// fleet: the wire schemas both sides read and write, and nothing that runs.
//
// An edge node publishes a Heartbeat (capacity, free resources, labels, the
// tasks it runs) keyed by its id to edgeflow.heartbeats; cloud.NodeTracker reads
// it. Operators submit a Task (a pipeline to run, its parameters, resource
// requests, priority and placement constraints) keyed by its id to
// edgeflow.tasks, an empty record deleting it. The scheduler (edgeflow
// schedule) places tasks on nodes and publishes one Assignment per node, keyed
// by the node id, to edgeflow.assignments: the full set of tasks that node
// should run, so a node that restarts reads its latest desired state from the
// compacted topic and its Supervisor starts and stops pipelines to match.
// docs/topics.md documents every field; docs/scheduling.md the flow.
package fleet
