// Package placementsim measures placement algorithms on a simulated edge
// cluster. A Workload draws heterogeneous nodes (small ARM boxes,
// memory-heavy and CPU-heavy gateways, large servers, a few with NPUs, spread
// over zones and sites) and a stream of tasks with heavy-tailed sizes
// (log-normal CPU, CPU- or memory-heavy shapes) and durations (Pareto), arriving
// as a Poisson process at a rate that offers a chosen share of the cluster's
// CPU. Run replays the stream through a placement.Planner over a
// placement.State: each arrival is one Plan call (timed), a placed task leaves
// when its duration ends, a task no node can take waits up to MaxWait and is
// retried when tasks leave. It reports time-averaged CPU and memory
// utilisation, the acceptance rate, fragmentation and decision latency. The
// same workload seed gives every algorithm the same nodes and tasks. RunPooled
// replays the same stream on the cluster with each node shape merged into one
// node and anti-affinity dropped: no fragmentation, a reference for how much
// of the utilisation the nodes' boundaries cost.
package placementsim
