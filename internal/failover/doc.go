// Package failover holds edgeflow's scheduling failover test: three edge nodes
// (edgeflow run --assignments), the scheduler (edgeflow schedule) and a
// producer of readings on the real Kafka broker. Each task relays one Kafka
// topic of readings to an output topic in its own consumer group; the test
// SIGKILLs the node running the first task and checks that its tasks run on
// another node, and readings written after the kill come through again, within
// the heartbeat timeout plus 5 s, and that every reading
// the broker acknowledged to the producer before the kill reaches the output.
// docs/scheduling.md states the guarantee and the measured times. A failed run
// logs what is needed to find out why from that one log: every process's log,
// one timeline (seconds after the kill) of the heartbeats the test saw, the
// broker's slow or failed acknowledgements to the producer and the key log
// lines of the scheduler and the nodes (assignments, tasks started and
// stopped, consumer-group joins, first records, warnings), and each reading
// that did not arrive with when its neighbours did.
package failover
