// Package cloud is the cloud side of edgeflow: it reads the Kafka topics edge
// nodes publish to, with a consumer group, and hands typed readings to the caller.
//
// Data flows from a Kafka partition through the watermill subscriber of package
// internal/kafkabus into a Consumer, which decodes each message (an encoded frame,
// header edgeflow-kind: frame, or readings as JSON lines, edgeflow-kind: readings)
// into a Batch, drops frames already delivered by (node, stream, sequence) with a
// Deduplicator, and calls the caller's handler. The message is acknowledged, and
// its offset committed, only after the handler returned nil; an error makes the
// subscriber redeliver it. Corrupt messages are counted, logged with their topic,
// partition and offset, and skipped. Stats are readable at any time, and
// RegisterMetrics exports them (with the group's lag) as OpenTelemetry
// instruments; Ready tells a readiness probe whether the consumer joined its group.
//
// NodeTracker follows the edge nodes themselves: it reads the heartbeats the
// nodes publish to edgeflow.heartbeats (edge.Heartbeater, schema in internal/fleet), keeps each node's
// latest capacity, free resources, labels and pipelines in a placement.State,
// and marks a node down when it has been silent for longer than the timeout
// (default three heartbeat intervals) or said it is stopping. Snapshot hands the
// placement planner a frozen view; OnChange reports every node that comes up or
// goes down.
package cloud
