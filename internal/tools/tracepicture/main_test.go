package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The trace of internal/e2e's fixture: ingest → process, flush → publish →
// consume → decode, the first 450 ms of it a wait for the frame to fill.
func loadFixture(t *testing.T) trace {
	t.Helper()
	raw, err := os.ReadFile("../../e2e/testdata/edge-to-cloud-trace.json")
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Data []trace `json:"data"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Data) != 1 {
		t.Fatalf("fixture: %v, %d traces", err, len(answer.Data))
	}
	return answer.Data[0]
}

func TestLayout(t *testing.T) {
	p, err := layout(loadFixture(t), "http://127.0.0.1:16686")
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "edgeflow-edge: ingest generate" || p.SpanCount != 6 || p.Depth != 5 || p.LinkCount != 9 {
		t.Errorf("title %q, %d spans, depth %d, %d links; want edgeflow-edge: ingest generate, 6, 5, 9",
			p.Title, p.SpanCount, p.Depth, p.LinkCount)
	}
	if len(p.Timelines) != 2 {
		t.Fatalf("%d timelines, want the whole trace and a close-up of its last spans", len(p.Timelines))
	}
	var got []string
	for _, r := range p.Timelines[0].Rows {
		got = append(got, strings.Repeat(" ", (r.Indent-4)/18)+r.Service+": "+strings.Fields(r.Operation)[0])
		if r.Left < 0 || r.Width <= 0 || r.Left+r.Width > 100.0001 {
			t.Errorf("%s: bar from %v%% width %v%% is not inside the lane", r.Operation, r.Left, r.Width)
		}
	}
	want := []string{
		"edgeflow-edge: ingest", " edgeflow-edge: process", " edgeflow-edge: flush",
		"  edgeflow-edge: publish", "   edgeflow-cloud: consume", "    edgeflow-cloud: decode",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rows := p.Timelines[1].Rows; len(rows) != 4 || !strings.HasPrefix(rows[0].Operation, "flush ") {
		t.Errorf("close-up has %d rows starting with %q; want flush, publish, consume, decode", len(rows), rows[0].Operation)
	}
	var html bytes.Buffer
	if err := pageTemplate.Execute(&html, p); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"flush encode", "edgeflow.flush.inputs=10", "links=9", "Close-up of the last"} {
		if !strings.Contains(html.String(), w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestBurst(t *testing.T) {
	at := func(start, dur int64) placedSpan { return placedSpan{span: span{StartTime: start, Duration: dur}} }
	tests := []struct {
		name     string
		spans    []placedSpan
		wantFrom int64
		wantOK   bool
	}{
		{name: "one long span", spans: []placedSpan{at(0, 100)}},
		{name: "spans spread out", spans: []placedSpan{at(0, 10), at(20, 10), at(40, 10), at(60, 40)}},
		{name: "inside a long parent", spans: []placedSpan{at(0, 100), at(90, 5)}},
		{name: "wait then burst", spans: []placedSpan{at(0, 1), at(1, 1), at(90, 5), at(96, 4)}, wantFrom: 90, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := int64(0)
			for _, s := range tt.spans {
				end = max(end, s.StartTime+s.Duration)
			}
			from, ok := burst(tt.spans, 0, end)
			if ok != tt.wantOK || (ok && from != tt.wantFrom) {
				t.Errorf("burst = %d, %v; want %d, %v", from, ok, tt.wantFrom, tt.wantOK)
			}
		})
	}
}

func TestLayoutNoSpans(t *testing.T) {
	if _, err := layout(trace{TraceID: "00"}, "http://x"); err == nil {
		t.Error("no error for a trace without spans")
	}
}
