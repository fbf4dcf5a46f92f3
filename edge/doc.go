// Package edge runs pipelines on an edge node. It resolves the node's settings
// (id, labels, Kafka brokers, data directory) from command-line flags, the
// environment, a node file and defaults, in that order of precedence, into the
// stages.Node every stage is built with; and its Runtime builds the loaded
// pipelines whose node_selector matches the node's labels, runs them side by
// side, and drains them all when stopped. docs/configuration.md documents every
// setting.
//
// A Heartbeater tells the cloud the node is alive: every interval (default
// 5s) it samples the node's capacity and free resources with a
// ResourceSampler (CPU from /proc/stat deltas and cgroup v2 cpu.max, memory
// from /proc/meminfo and memory.max, disk from statfs of the data directory,
// accelerators as configured; on systems without /proc only the CPU count),
// adds the labels, version and running pipelines, and publishes the versioned
// JSON Heartbeat keyed by the node id to the topic edgeflow.heartbeats, where
// cloud.NodeTracker reads it. docs/topics.md documents the schema.
//
// A Supervisor runs the tasks the scheduler assigns to the node: it follows the
// node's latest assignment on edgeflow.assignments (FollowAssignments) and
// reconciles the running pipelines to it (PlanReconcile: start new tasks, drain
// and stop removed ones, leave unchanged ones alone), loading each task's
// pipeline from the node's pipelines directory or from the task itself, under
// the task's id as its name. docs/scheduling.md describes the flow.
package edge
