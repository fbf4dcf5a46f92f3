// Command benchschedule measures edgeflow's placement algorithms (greedy,
// random, best-fit, balanced, dot-product, norm-fit, most-allocated; package
// internal/placement; -algorithms picks some) on the simulated
// edge cluster of package placementsim: for 10, 100, 1,000 and 10,000 nodes it
// reports CPU and memory utilisation, acceptance rate, fragmentation and
// decision latency (p50, p99, wall clock and thread CPU time), with ratios
// against greedy from the same run, and at 10,000 nodes the same with
// Kubernetes-style sampling of feasible nodes;
// the utilisation each algorithm reaches at equal acceptance (a search for the
// load at which 99 % and 95 % of tasks are accepted, beside the same search on
// the pooled cluster of placementsim.RunPooled at the sizes of -pooled-sizes,
// 100 nodes by default; -only-equal runs just this part), with a verdict per
// setting on the target of +10 % utilisation over greedy; and the reference article's
// 10-node comparison of greedy and random over several seeds. With -doc it
// rewrites the scheduling section of docs/benchmarks.md, with -plot it draws a
// PNG. It is a separate Go module so that the plotting dependency stays out of
// edgeflow's go.mod; run it with "make bench-schedule".
package main
