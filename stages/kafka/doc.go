// Package kafka provides the "kafka" sink and source stages. The sink publishes
// each message (typically an encoded frame) to a Kafka topic through
// internal/kafkabus: one record per message, keyed by node and stream so a
// stream's frames stay in order, lz4 compressed, written only once every
// in-sync replica has it, with the message UUID and metadata as record headers.
// The source reads one or more topics in a consumer group and emits each record
// as a message with its metadata restored from the headers; a record's offset is
// committed only after the pipeline acknowledged it, and a rejected (nacked)
// record is emitted again, so nothing is lost across restarts.
package kafka
