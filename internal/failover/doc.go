// Package failover holds edgeflow's scheduling failover test: three edge nodes
// (edgeflow run --assignments), the scheduler (edgeflow schedule) and a
// producer of readings on the real Kafka broker. Each task relays one Kafka
// topic of readings to an output topic in its own consumer group; the test
// SIGKILLs the node running the first task and checks that its tasks run on
// another node, and readings written after the kill come through again, within
// the heartbeat timeout plus 5 s, and that every reading
// the broker acknowledged to the producer before the kill reaches the output.
// docs/scheduling.md states the guarantee and the measured times.
package failover
