package pipelines_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

const metricsPipeline = `
name: metered
sources:
  - type: generate
    count: 300
    realtime: false
    anomaly_rate: 0
    start: "2026-01-01T00:00:00Z"
    sensors:
      - name: temperature
        kind: temperature
        interval: 1s
      - name: humidity
        kind: humidity
        interval: 1s
stages:
  - type: encode
    codec: zstd
    block_size: 100
    max_age: 1h
sinks:
  - type: file
    path: %s
`

// scrape GETs /metrics from h and parses it.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample finds the metric of family name whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func TestRawBytesPerReadingAgrees(t *testing.T) {
	if pipelines.RawBytesPerReading != cloud.RawBytesPerReading {
		t.Errorf("pipelines.RawBytesPerReading %d, cloud.RawBytesPerReading %d: edge and cloud must count raw bytes alike",
			pipelines.RawBytesPerReading, cloud.RawBytesPerReading)
	}
}

func TestMetricsOfARun(t *testing.T) {
	ctx := context.Background()
	p, err := pipelines.Load("metered.yaml", []byte(fmt.Sprintf(metricsPipeline, filepath.Join(t.TempDir(), "out.frames"))))
	if err != nil {
		t.Fatal(err)
	}
	res, err := telemetry.NewResource(ctx, telemetry.Config{}, telemetry.Process{Role: telemetry.RoleEdge, NodeID: "node-7"})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := telemetry.NewMetrics(res)
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Shutdown(ctx)
	pm, err := pipelines.NewMetrics(tm.MeterProvider(), "node-7")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "node-7"}}, pm.RunnerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := pm.Observe(func() []pipelines.Stats { return []pipelines.Stats{r.Stats()} })
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.Acked == 0 || st.Acked != st.Stages[0].Out {
		t.Fatalf("stats %s: want every generated message acked", st)
	}
	fams := scrape(t, tm.Handler())

	enc := map[string]string{"node": "node-7", "pipeline": "metered", "step": "stages[0]", "stage": "encode"}
	counters := []struct {
		name   string
		labels map[string]string
		want   uint64
	}{
		{"edgeflow_stage_messages_out_total", map[string]string{"step": "sources[0]", "stage": "generate"}, st.Stages[0].Out},
		{"edgeflow_stage_messages_in_total", enc, st.Stages[1].In},
		{"edgeflow_stage_messages_out_total", enc, 6}, // 2 streams × 300 readings in frames of 100
		{"edgeflow_stage_messages_errors_total", enc, 0},
		{"edgeflow_stage_messages_in_total", map[string]string{"step": "sinks[0]", "stage": "file"}, 6},
		{"edgeflow_encode_bytes_raw_total", map[string]string{"step": "stages[0]", "codec": "zstd"}, 600 * pipelines.RawBytesPerReading},
		{"edgeflow_pipeline_messages_total", map[string]string{"node": "node-7", "pipeline": "metered", "outcome": "acked"}, st.Acked},
	}
	for _, c := range counters {
		m := sample(fams, c.name, c.labels)
		if m == nil {
			t.Errorf("%s%v: missing", c.name, c.labels)
			continue
		}
		if got := m.GetCounter().GetValue(); got != float64(c.want) || c.want == 0 && !strings.HasSuffix(c.name, "_errors_total") {
			t.Errorf("%s%v = %v, want %d", c.name, c.labels, got, c.want)
		}
	}
	encoded := sample(fams, "edgeflow_encode_bytes_encoded_total", map[string]string{"codec": "zstd"})
	ratio := sample(fams, "edgeflow_encode_compression_ratio", map[string]string{"codec": "zstd"})
	switch {
	case encoded == nil || ratio == nil:
		t.Error("edgeflow_encode_bytes_encoded_total or edgeflow_encode_compression_ratio missing")
	case encoded.GetCounter().GetValue() <= 0 || encoded.GetCounter().GetValue() >= 600*pipelines.RawBytesPerReading:
		t.Errorf("encoded bytes %v, want between 0 and the raw %d", encoded.GetCounter().GetValue(), 600*pipelines.RawBytesPerReading)
	case math.Abs(ratio.GetGauge().GetValue()-600*pipelines.RawBytesPerReading/encoded.GetCounter().GetValue()) > 1e-9:
		t.Errorf("compression ratio %v, want raw/encoded", ratio.GetGauge().GetValue())
	}

	for _, op := range []struct{ step, op string }{{"stages[0]", "process"}, {"stages[0]", "flush"}, {"sinks[0]", "write"}} {
		m := sample(fams, "edgeflow_stage_duration_seconds", map[string]string{"node": "node-7", "step": op.step, "op": op.op})
		if m == nil || m.GetHistogram().GetSampleCount() == 0 {
			t.Errorf("edgeflow_stage_duration_seconds{step=%q,op=%q}: no observations", op.step, op.op)
		}
	}
	if m := sample(fams, "edgeflow_stage_duration_seconds", map[string]string{"step": "stages[0]", "op": "process"}); m != nil {
		if got, want := m.GetHistogram().GetSampleCount(), st.Stages[1].In; got != want {
			t.Errorf("process durations observed %d, want one per message in (%d)", got, want)
		}
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_alloc_bytes", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if m := sample(fams, "target_info", map[string]string{"edgeflow_node_id": "node-7", "edgeflow_role": "edge"}); m == nil {
		t.Errorf("target_info with the node id missing")
	}
	if t.Failed() {
		var names []string
		for n := range fams {
			names = append(names, n)
		}
		t.Logf("families: %s", strings.Join(names, " "))
	}
}
