package spool

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/internal/telemetry"
)

func TestMetricsAreExported(t *testing.T) {
	m, err := telemetry.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{fail: true}
	cfg := testConfig()
	cfg.MaxMessages = 3
	cfg.WhenFull = PolicyDropOldest
	s, err := Open(filepath.Join(t.TempDir(), "m.db"), cfg, sink, Options{MeterProvider: m.MeterProvider(), Node: "edge-1", Name: "p/sinks[0] (kafka)"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(context.Background(), msgs(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), msgs(3, 2)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`edgeflow_spool_depth{node="edge-1",spool="p/sinks[0] (kafka)"} 3`,
		`edgeflow_spool_dropped_total{node="edge-1",reason="full",spool="p/sinks[0] (kafka)"} 1`,
		`edgeflow_spool_messages_total{node="edge-1",outcome="appended",spool="p/sinks[0] (kafka)"} 4`,
		`edgeflow_spool_bytes{node="edge-1",spool="p/sinks[0] (kafka)"}`,
		`edgeflow_spool_blocked_total{node="edge-1",spool="p/sinks[0] (kafka)"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %s in\n%s", want, grepSpool(string(body)))
		}
	}
}

func grepSpool(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "spool") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
