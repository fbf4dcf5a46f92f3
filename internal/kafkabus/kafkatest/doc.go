// Package kafkatest gives tests the address of the real Kafka broker they run
// against: EDGEFLOW_KAFKA_BROKERS (comma separated, default 127.0.0.1:9092).
// When no broker answers, the test is skipped with a hint, or fails when the
// environment says CI=true (start one with `bash internal/tools/kafka.sh up`).
package kafkatest
