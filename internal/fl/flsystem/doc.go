// Package flsystem tests edgeflow's federated learning through the real
// system: the edgeflow binary, built once, runs four edge nodes (edgeflow run
// with a train pipeline reading their own TelosB mote's labelled rows) and
// the coordinator (edgeflow run with a fedavg pipeline) against the real
// Kafka broker. One node is a straggler and one is killed mid-round and
// restarted; the test checks the rounds' bookkeeping, the weights and that
// the model improves. It holds tests only.
package flsystem
