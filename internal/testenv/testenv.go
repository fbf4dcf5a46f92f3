package testenv

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Environment variables naming the real services tests run against.
const (
	EnvKafkaBrokers = "EDGEFLOW_KAFKA_BROKERS" // comma-separated host:port list
	EnvMQTTURL      = "EDGEFLOW_MQTT_URL"      // tcp://host:port
	// EnvOTLPEndpoint is the OTLP/gRPC receiver of the trace backend, host:port.
	EnvOTLPEndpoint = "EDGEFLOW_OTLP_ENDPOINT"
	// EnvJaegerURL is the base URL of the trace backend's Jaeger query API and UI.
	EnvJaegerURL = "EDGEFLOW_JAEGER_URL"
)

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

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

// SharedFile returns the absolute path of rel inside the read-only shared
// directory beside the repository (../shared from the root; rel "" is the
// directory itself). When it is missing: see Unavailable.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(RepoRoot(), "..", "shared", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "shared data missing: "+p+" (it lives in ../shared beside the repository)")
	}
	return p
}

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

// RequireKafka returns the Kafka broker addresses once one of them accepts a TCP
// connection; otherwise see Unavailable.
func RequireKafka(t testing.TB) []string {
	t.Helper()
	brokers := KafkaBrokers()
	for _, b := range brokers {
		if Reachable(b) {
			return brokers
		}
	}
	Unavailable(t, "no Kafka broker answers at "+strings.Join(brokers, ",")+" ($"+EnvKafkaBrokers+
		"); start one with `bash internal/tools/kafka.sh up`")
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
	if !Reachable(host) {
		Unavailable(t, "no MQTT broker answers at "+raw+" ($"+EnvMQTTURL+
			"); start one with `bash internal/tools/mosquitto.sh up`")
	}
	return raw
}

// Reachable reports whether addr accepts a TCP connection within 2 s.
func Reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Jaeger is the trace backend tests export spans to and read them back from.
type Jaeger struct {
	OTLPEndpoint string // OTLP/gRPC receiver, host:port (e.g. 127.0.0.1:4317)
	URL          string // query API and UI base URL, no trailing slash (e.g. http://127.0.0.1:16686)
}

// JaegerBackend returns the trace backend tests use: $EDGEFLOW_OTLP_ENDPOINT or
// 127.0.0.1:4317, and $EDGEFLOW_JAEGER_URL or http://127.0.0.1:16686.
func JaegerBackend() Jaeger {
	j := Jaeger{OTLPEndpoint: strings.TrimSpace(os.Getenv(EnvOTLPEndpoint)), URL: strings.TrimSpace(os.Getenv(EnvJaegerURL))}
	if j.OTLPEndpoint == "" {
		j.OTLPEndpoint = "127.0.0.1:4317"
	}
	if j.URL == "" {
		j.URL = "http://127.0.0.1:16686"
	}
	j.URL = strings.TrimRight(j.URL, "/")
	return j
}

// RequireJaeger returns the trace backend once its OTLP receiver accepts a TCP
// connection and its query API answers GET /api/services; otherwise see
// Unavailable.
func RequireJaeger(t testing.TB) Jaeger {
	t.Helper()
	j := JaegerBackend()
	u, err := url.Parse(j.URL)
	if err != nil || u.Host == "" {
		t.Fatalf("$%s=%q is not a URL like http://127.0.0.1:16686", EnvJaegerURL, j.URL)
	}
	start := "; start it with `bash internal/tools/jaeger.sh up`"
	if !Reachable(j.OTLPEndpoint) {
		Unavailable(t, "no OTLP receiver answers at "+j.OTLPEndpoint+" ($"+EnvOTLPEndpoint+")"+start)
		return j
	}
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(j.URL + "/api/services")
	if err != nil {
		Unavailable(t, "no Jaeger query API answers at "+j.URL+" ($"+EnvJaegerURL+"): "+err.Error()+start)
		return j
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		Unavailable(t, "GET "+j.URL+"/api/services: "+resp.Status+" (is it Jaeger?)"+start)
	}
	return j
}
