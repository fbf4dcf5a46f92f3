package stagetest

import (
	"testing"

	"github.com/edgeflow/edgeflow/internal/testenv"
)

// The service and data helpers below are internal/testenv's, re-exported for
// stage packages' tests.

// Environment variables naming the real services tests run against.
const (
	EnvKafkaBrokers = testenv.EnvKafkaBrokers
	EnvMQTTURL      = testenv.EnvMQTTURL
)

// KafkaBrokers returns the Kafka broker addresses tests use: $EDGEFLOW_KAFKA_BROKERS
// (comma separated) or 127.0.0.1:9092.
func KafkaBrokers() []string { return testenv.KafkaBrokers() }

// MQTTURL returns the MQTT broker URL tests use: $EDGEFLOW_MQTT_URL or
// tcp://127.0.0.1:1883.
func MQTTURL() string { return testenv.MQTTURL() }

// InCI reports whether the environment variable CI is "true": then a missing
// service or data file fails a test instead of skipping it.
func InCI() bool { return testenv.InCI() }

// Unavailable skips the test with reason, or fails it when running in CI.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	testenv.Unavailable(t, reason)
}

// RequireKafka returns the Kafka broker addresses once one of them accepts a TCP
// connection; otherwise see Unavailable.
func RequireKafka(t testing.TB) []string {
	t.Helper()
	return testenv.RequireKafka(t)
}

// RequireMQTT returns the MQTT broker URL once it accepts a TCP connection;
// otherwise see Unavailable.
func RequireMQTT(t testing.TB) string {
	t.Helper()
	return testenv.RequireMQTT(t)
}

// RepoRoot returns the repository root.
func RepoRoot(t testing.TB) string { return testenv.RepoRoot() }

// SharedFile returns the path of a read-only shared data file, rel being
// relative to the shared data directory beside the repository (../shared from
// the repository root). A missing file skips the test, or fails it in CI.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	return testenv.SharedFile(t, rel)
}
