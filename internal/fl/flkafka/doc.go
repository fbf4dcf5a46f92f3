// Package flkafka carries edgeflow's federated learning over Kafka: the
// global model on a compacted models topic and the edge nodes' updates on an
// updates topic.
//
// The cloud (the fedavg stage) publishes a GlobalModel record for every round
// to the models topic, keyed by the model's name so that compaction keeps the
// latest: the model's parameters in the update wire format (internal/fl/model,
// kind weights) and, in record headers, the round it opens, its version (the
// aggregations folded into it), the clients selected to train and the round's
// deadline. Edge nodes (the train stage, the detect stage's model_topic)
// follow the topic with WatchModels; a selected node trains before the
// deadline and sends its update (kind delta) through its pipeline's kafka
// sink to the updates topic. Transport implements aggregate.Transport on top
// of both topics, so that aggregate.Coordinator runs rounds over Kafka.
package flkafka
