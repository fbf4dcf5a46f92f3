// Package kafkabus carries watermill messages over Apache Kafka with
// github.com/segmentio/kafka-go. A Publisher turns each *message.Message into one
// Kafka record (payload as value, key chosen per message, watermill UUID and every
// metadata entry as record headers), creates missing topics through the cluster
// controller and waits for all in-sync replicas to acknowledge every write. A
// Subscriber runs one consumer-group reader per Subscribe call and hands records
// out one at a time as watermill messages; a record's offset is committed only after
// the message is Acked, and a Nacked message is delivered again before anything
// after it, so per-partition order and at-least-once delivery hold.
package kafkabus
