// Package train is the edge side of edgeflow's federated learning as a
// pipeline stage: the train processor.
//
// Readings flow in (kind readings); the readings of the configured feature
// streams that share a timestamp become one labelled example, its class taken
// from a reading label (label: 1 for an anomaly), and the latest max_examples
// examples are kept in memory. Nothing flows on from Process. Beside the
// pipeline the stage follows the compacted models topic (internal/fl/flkafka):
// when a global model arrives whose round selects this node and whose
// deadline has not passed, the stage trains the MLP of internal/fl/train from
// it on its examples (FedProx μ optional) and, at the pipeline's next flush,
// emits the update (kind fl-update, internal/fl/model wire format: round,
// node, example count, train and eval metrics) to the sinks — a kafka sink
// writing the updates topic, spooled like any other output.
package train
