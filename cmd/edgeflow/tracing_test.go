package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span an OTLP receiver got, with its resource.
type otlpSpan struct {
	service, resourceNode string
	name, traceID         string
	attrs                 map[string]string
}

// otlpReceiver is an OTLP/HTTP trace receiver keeping every span.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []otlpSpan
}

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil || r.URL.Path != "/v1/traces" {
		http.Error(w, "bad export request", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.ResourceSpans {
		res := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.Key] = kv.Value.GetStringValue()
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				rc.spans = append(rc.spans, otlpSpan{service: res["service.name"], resourceNode: res["edgeflow.node.id"],
					name: s.Name, traceID: hex.EncodeToString(s.TraceId), attrs: spanAttrs(s)})
			}
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func spanAttrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		if v := kv.Value.GetStringValue(); v != "" {
			m[kv.Key] = v
		}
	}
	return m
}

// TestDemoExportsTraces runs the demo with --otlp pointing at an in-process
// OTLP/HTTP receiver: the trace id it prints must be one trace from the edge
// node's generator to the cloud consumer, and each node's spans carry its id.
func TestDemoExportsTraces(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	code, out, errOut := runCLI(t, nil, "demo", "--duration", "2s", "--listen", "127.0.0.1:0", "--nodes", "2", "--otlp", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`trace of node-1's first reading in the cloud: ([0-9a-f]{32}), exported to otlp http/protobuf`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no sample trace line in the summary:\n%s", out)
	}
	traceID := string(m[1])

	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]otlpSpan{}
	nodesOfService := map[string]map[string]bool{}
	for _, s := range rc.spans {
		if nodesOfService[s.service] == nil {
			nodesOfService[s.service] = map[string]bool{}
		}
		nodesOfService[s.service][s.attrs["edgeflow.node.id"]] = true
		if s.service == "edgeflow-edge" && s.attrs["edgeflow.node.id"] != s.resourceNode {
			t.Errorf("span %s of node %s has edgeflow.node.id %q", s.name, s.resourceNode, s.attrs["edgeflow.node.id"])
		}
		if s.traceID == traceID {
			seen[s.name] = s
		}
	}
	for name, service := range map[string]string{
		"ingest generate": "edgeflow-edge", "process encode": "edgeflow-edge", "flush encode": "edgeflow-edge",
		"publish edgeflow.frames": "edgeflow-edge", "consume edgeflow.frames": "edgeflow-cloud", "decode": "edgeflow-cloud",
	} {
		s, ok := seen[name]
		if !ok {
			t.Errorf("trace %s has no %q span (of %d spans received)", traceID, name, len(rc.spans))
			continue
		}
		if s.service != service {
			t.Errorf("%s: service.name %q, want %q", name, s.service, service)
		}
	}
	if s := seen["consume edgeflow.frames"]; s.attrs["edgeflow.node.id"] != "node-1" {
		t.Errorf("consume span edgeflow.node.id = %q, want node-1", s.attrs["edgeflow.node.id"])
	}
	if !nodesOfService["edgeflow-edge"]["node-1"] || !nodesOfService["edgeflow-edge"]["node-2"] {
		t.Errorf("edge spans of nodes %v, want node-1 and node-2", nodesOfService["edgeflow-edge"])
	}
}

func TestTracingFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--trace-sample", "2"},
		{"demo", "--otlp", "collector-without-port"},
		{"tail", "--trace-sample", "x", "topic"},
	} {
		code, _, errOut := runCLI(t, nil, args...)
		if code == 0 {
			t.Errorf("%v: exit 0, want a failure", args)
		}
		if !strings.Contains(errOut, "trace-sample") && !strings.Contains(errOut, "endpoint") {
			t.Errorf("%v: stderr %q does not say what is wrong", args, errOut)
		}
	}
}

// TestRunExportsTraces runs a pipeline with edgeflow run --otlp and checks the
// spans that reach an OTLP/HTTP receiver.
func TestRunExportsTraces(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	dir := t.TempDir()
	file := writePipeline(t, dir, "traced.yaml", `name: traced
sources:
  - type: generate
    realtime: false
    count: 20
    start: "2026-01-01T00:00:00Z"
stages:
  - type: encode
sinks:
  - type: file
    path: `+dir+`/out.frames
`)
	code, _, errOut := runCLI(t, nil, "run", "--node-id", "gw-7", "--data-dir", dir, "--otlp", srv.URL, file)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	count := map[string]int{}
	for _, s := range rc.spans {
		count[s.name]++
		if s.service != "edgeflow-edge" || s.resourceNode != "gw-7" || s.attrs["edgeflow.node.id"] != "gw-7" || s.attrs["edgeflow.pipeline"] != "traced" {
			t.Errorf("span %s: service %q, resource node %q, attributes %v", s.name, s.service, s.resourceNode, s.attrs)
		}
	}
	// 20 ticks of two sensors: 20 messages, one flush at the end, one write.
	if count["ingest generate"] != 20 || count["process encode"] != 20 || count["flush encode"] != 1 || count["write file"] != 1 {
		t.Errorf("spans by name %v", count)
	}
}
