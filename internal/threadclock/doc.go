// Package threadclock reads the CPU time of the calling OS thread, so
// benchmarks and simulations on a shared machine can time a decision without
// the time the thread spent waiting for a core.
package threadclock
