package stagetest

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment variables naming the real services tests run against.
const (
	EnvKafkaBrokers = "EDGEFLOW_KAFKA_BROKERS" // comma-separated host:port list
	EnvMQTTURL      = "EDGEFLOW_MQTT_URL"      // tcp://host:port
)

// KafkaBrokers returns the Kafka broker addresses tests use: $EDGEFLOW_KAFKA_BROKERS
// (comma separated) or 127.0.0.1:9092.
func KafkaBrokers() []string {
	var out []string
	for _, b := range strings.Split(os.Getenv(EnvKafkaBrokers), ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		out = []string{"127.0.0.1:9092"}
	}
	return out
}

// MQTTURL returns the MQTT broker URL tests use: $EDGEFLOW_MQTT_URL or
// tcp://127.0.0.1:1883.
func MQTTURL() string {
	if u := strings.TrimSpace(os.Getenv(EnvMQTTURL)); u != "" {
		return u
	}
	return "tcp://127.0.0.1:1883"
}

// InCI reports whether the environment variable CI is "true": then a missing
// service or data file fails a test instead of skipping it.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test with reason, or fails it when running in CI.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=true: required)", reason)
	}
	t.Skipf("skipped: %s (set CI=true to make this a failure)", reason)
}

// RequireKafka returns the Kafka broker addresses once one of them accepts a TCP
// connection; otherwise see Unavailable.
func RequireKafka(t testing.TB) []string {
	t.Helper()
	brokers := KafkaBrokers()
	for _, b := range brokers {
		if reachable(b) {
			return brokers
		}
	}
	Unavailable(t, "no Kafka broker answers at "+strings.Join(brokers, ",")+" ($"+EnvKafkaBrokers+")")
	return nil
}

// RequireMQTT returns the MQTT broker URL once it accepts a TCP connection;
// otherwise see Unavailable.
func RequireMQTT(t testing.TB) string {
	t.Helper()
	raw := MQTTURL()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("$%s=%q is not a URL like tcp://127.0.0.1:1883", EnvMQTTURL, raw)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1883")
	}
	if !reachable(host) {
		Unavailable(t, "no MQTT broker answers at "+raw+" ($"+EnvMQTTURL+")")
	}
	return raw
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// RepoRoot returns the repository root: the nearest directory above the current
// one (a test's package directory) holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SharedFile returns the path of a read-only shared data file, rel being
// relative to the shared data directory beside the repository (../shared from
// the repository root). A missing file skips the test, or fails it in CI.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "shared data file missing: "+p)
	}
	return p
}
