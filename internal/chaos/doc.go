// Package chaos holds edgeflow's chaos tests: a real Kafka broker, an edge node
// (edgeflow run with an http source → encode → kafka sink, spooled) and a cloud
// consumer (edgeflow tail), each a separate process, while the tests SIGKILL the
// broker, the edge node or the consumer, or cut the network between edge and
// broker, and then check that every reading the edge acknowledged (HTTP 2xx)
// reaches the consumer, at most once after the consumer's dedupe and in order
// per stream.
//
// The tests run only with EDGEFLOW_CHAOS=1 (`make chaos`); otherwise they skip
// at once. They use their own broker on 127.0.0.1:19093
// (EDGEFLOW_CHAOS_KAFKA_PORT), started and restarted through
// internal/tools/kafka.sh with its own data directory, never the shared one on
// 9092. A network partition is a TCP proxy inside the test between the edge node
// and a second listener of that broker that advertises the proxy's address; the
// proxy stops forwarding bytes (a partition where packets are lost, TCP
// connections stay open) and forwards again when healed. The edgeflow binary is
// built with the chaoshook tag, so that one test can make the edge's spool pause
// between a Kafka write and the deletion of what it wrote
// (EDGEFLOW_SPOOL_DELETE_DELAY) and kill it inside that window.
//
// EDGEFLOW_CHAOS_RATE (readings/s, default 2000) and EDGEFLOW_CHAOS_OUTAGE
// (default 30s) set the broker-kill test's load and outage; the long variant of
// docs/reliability.md is EDGEFLOW_CHAOS_RATE=10000 EDGEFLOW_CHAOS_OUTAGE=5m.
// Each test prints its counts: sent, acknowledged, received, duplicates dropped
// by the consumer, duplicates left, lost and out of order.
package chaos
