// Package fedavg is the cloud side of edgeflow's federated learning as a
// pipeline stage: the fedavg source.
//
// It knows the federation's clients from the heartbeats topic (nodes up,
// filtered by labels; see cloud.NodeTracker) and a static list, and runs
// rounds with aggregate.Coordinator over flkafka.Transport: each round it
// samples clients, publishes the global model with the round id, the
// selection and the deadline to the compacted models topic, takes the
// updates that arrive on the updates topic until a quorum or the deadline,
// aggregates them (FedAvg, median, trimmed mean or Krum, optional central
// DP) into the next version of the global model, and emits a round report as
// readings (counts of accepted, late and dropped updates, each node's
// weight, mean losses) to the pipeline's sinks. After the configured number
// of rounds it publishes the final model and the source ends.
package fedavg
