package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The node and topic of testdata/edge-to-cloud-trace.json, a trace that
// TestTraceFromEdgeToCloud read from Jaeger's /api/traces/{id}.
const (
	fixtureNode  = "e2e-trace-06bbb01a"
	fixtureTopic = "edgeflow.e2e.trace-06bbb01a"
)

// TestCheckEdgeToCloudTrace checks the checker on a recorded trace and on
// copies of it broken in one place each.
func TestCheckEdgeToCloudTrace(t *testing.T) {
	raw, err := os.ReadFile("testdata/edge-to-cloud-trace.json")
	if err != nil {
		t.Fatal(err)
	}
	load := func(t *testing.T) jaegerTrace {
		var answer struct {
			Data []jaegerTrace `json:"data"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Data) != 1 {
			t.Fatalf("testdata/edge-to-cloud-trace.json: %v, %d traces", err, len(answer.Data))
		}
		return answer.Data[0]
	}
	span := func(tr jaegerTrace, prefix string) *jaegerSpan {
		for i := range tr.Spans {
			if strings.HasPrefix(tr.Spans[i].OperationName, prefix) {
				return &tr.Spans[i]
			}
		}
		t.Fatalf("fixture has no span %q", prefix)
		return nil
	}
	setTag := func(s *jaegerSpan, key, value string) {
		for i := range s.Tags {
			if s.Tags[i].Key == key {
				s.Tags[i].Value = value
			}
		}
	}
	tests := []struct {
		name   string
		node   string
		mutate func(tr jaegerTrace)
		want   string // in a problem; "" means none
	}{
		{name: "recorded trace", node: fixtureNode},
		{name: "other node", node: "gw-9", want: `edgeflow.node.id = "` + fixtureNode + `", want "gw-9"`},
		{name: "consume not under publish", node: fixtureNode, want: "path from the root",
			mutate: func(tr jaegerTrace) {
				span(tr, "consume ").References[0].SpanID = span(tr, "ingest ").SpanID
			}},
		{name: "parent missing", node: fixtureNode, want: "not in the trace",
			mutate: func(tr jaegerTrace) { span(tr, "publish ").References[0].SpanID = "0000000000000001" }},
		{name: "publish not a producer", node: fixtureNode, want: `span.kind "internal", want "producer"`,
			mutate: func(tr jaegerTrace) { setTag(span(tr, "publish "), tagSpanKind, "internal") }},
		{name: "flush without pipeline", node: fixtureNode, want: `"flush encode": edgeflow.pipeline = "other"`,
			mutate: func(tr jaegerTrace) { setTag(span(tr, "flush "), attrPipeline, "other") }},
		{name: "no decode", node: fixtureNode, want: `no "decode" span`,
			mutate: func(tr jaegerTrace) { span(tr, "decode").OperationName = "parse" }},
		{name: "no process", node: fixtureNode, want: `no "process <stage id>" span`,
			mutate: func(tr jaegerTrace) { span(tr, "process ").OperationName = "work" }},
		{name: "consume from the edge", node: fixtureNode, want: "no span \"consume",
			mutate: func(tr jaegerTrace) { span(tr, "consume ").ProcessID = span(tr, "ingest ").ProcessID }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := load(t)
			if tt.mutate != nil {
				tt.mutate(tr)
			}
			problems := checkEdgeToCloudTrace(tr, tt.node, fixtureTopic)
			all := strings.Join(problems, "\n")
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("problems in a good trace:\n%s\n%s", all, tr.outline())
			case tt.want != "" && !strings.Contains(all, tt.want):
				t.Errorf("problems lack %q:\n%s", tt.want, all)
			}
		})
	}
	if n := flushInputs(load(t)); n != 10 {
		t.Errorf("flushInputs = %d, want 10", n)
	}
}
