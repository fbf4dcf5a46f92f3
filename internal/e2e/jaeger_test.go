package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// jaegerTrace is one trace as Jaeger's query API (/api/traces, the model its
// UI reads) returns it: spans, and the processes (services) that sent them.
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string            `json:"traceID"`
	SpanID        string            `json:"spanID"`
	OperationName string            `json:"operationName"`
	References    []jaegerReference `json:"references"`
	StartTime     int64             `json:"startTime"` // µs since the Unix epoch
	Duration      int64             `json:"duration"`  // µs
	Tags          []jaegerKeyValue  `json:"tags"`
	ProcessID     string            `json:"processID"`
}

type jaegerReference struct {
	RefType string `json:"refType"` // CHILD_OF or FOLLOWS_FROM
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerKeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerProcess struct {
	ServiceName string           `json:"serviceName"`
	Tags        []jaegerKeyValue `json:"tags"`
}

// tag returns the value of the span's attribute key as text, and whether it is set.
func (s jaegerSpan) tag(key string) (string, bool) {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value), true
		}
	}
	return "", false
}

// parentID is the span id of the span's CHILD_OF reference in the same trace, or "".
func (s jaegerSpan) parentID() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" && r.TraceID == s.TraceID {
			return r.SpanID
		}
	}
	return ""
}

// service is the service name of the process that sent span s.
func (tr jaegerTrace) service(s jaegerSpan) string { return tr.Processes[s.ProcessID].ServiceName }

// duration is the time from the first span's start to the last one's end, in µs.
func (tr jaegerTrace) duration() int64 {
	if len(tr.Spans) == 0 {
		return 0
	}
	start, end := tr.Spans[0].StartTime, tr.Spans[0].StartTime+tr.Spans[0].Duration
	for _, s := range tr.Spans {
		start, end = min(start, s.StartTime), max(end, s.StartTime+s.Duration)
	}
	return end - start
}

// span returns the span with id, or false.
func (tr jaegerTrace) span(id string) (jaegerSpan, bool) {
	for _, s := range tr.Spans {
		if s.SpanID == id {
			return s, true
		}
	}
	return jaegerSpan{}, false
}

// spanNamed returns the first span whose operation name starts with prefix.
func (tr jaegerTrace) spanNamed(prefix string) (jaegerSpan, bool) {
	for _, s := range tr.Spans {
		if strings.HasPrefix(s.OperationName, prefix) {
			return s, true
		}
	}
	return jaegerSpan{}, false
}

// children returns the spans whose parent is id, in start order.
func (tr jaegerTrace) children(id string) []jaegerSpan {
	var out []jaegerSpan
	for _, s := range tr.Spans {
		if s.parentID() == id {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartTime < out[j].StartTime })
	return out
}

// outline is the trace as an indented tree of "service: operation" lines, for
// failure messages.
func (tr jaegerTrace) outline() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s, %d spans\n", tr.TraceID, len(tr.Spans))
	var walk func(id string, depth int)
	walk = func(id string, depth int) {
		for _, s := range tr.children(id) {
			fmt.Fprintf(&b, "%s%s: %s\n", strings.Repeat("  ", depth+1), tr.service(s), s.OperationName)
			walk(s.SpanID, depth+1)
		}
	}
	for _, s := range tr.Spans {
		// roots, and spans whose parent is missing from the trace
		if p := s.parentID(); p == "" || !tr.hasSpan(p) {
			fmt.Fprintf(&b, "  %s: %s (root)\n", tr.service(s), s.OperationName)
			walk(s.SpanID, 1)
		}
	}
	return b.String()
}

func (tr jaegerTrace) hasSpan(id string) bool { _, ok := tr.span(id); return ok }

// jaegerQuery reads traces from the Jaeger query API at baseURL.
type jaegerQuery struct {
	baseURL string
	client  http.Client
}

// findTraces returns the traces of service (at most limit, the newest first)
// from the last lookback that have a span with every attribute in tags.
func (q jaegerQuery) findTraces(ctx context.Context, service string, tags map[string]string, lookback time.Duration, limit int) ([]jaegerTrace, error) {
	v := url.Values{}
	v.Set("service", service)
	v.Set("lookback", lookback.String())
	v.Set("limit", fmt.Sprint(limit))
	if len(tags) > 0 {
		tj, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		v.Set("tags", string(tj))
	}
	v.Set("start", fmt.Sprint(time.Now().Add(-lookback).UnixMicro()))
	v.Set("end", fmt.Sprint(time.Now().Add(time.Minute).UnixMicro()))
	var out struct {
		Data   []jaegerTrace `json:"data"`
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	if err := q.getJSON(ctx, "/api/traces?"+v.Encode(), &out); err != nil {
		return nil, err
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("jaeger: /api/traces: %d %s", out.Errors[0].Code, out.Errors[0].Msg)
	}
	return out.Data, nil
}

// services lists the services Jaeger has spans of.
func (q jaegerQuery) services(ctx context.Context) ([]string, error) {
	var out struct {
		Data []string `json:"data"`
	}
	err := q.getJSON(ctx, "/api/services", &out)
	return out.Data, err
}

func (q jaegerQuery) getJSON(ctx context.Context, pathAndQuery string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.baseURL+pathAndQuery, nil)
	if err != nil {
		return err
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return fmt.Errorf("jaeger: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("jaeger: GET %s: %w", pathAndQuery, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jaeger: GET %s: %s: %.300s", pathAndQuery, resp.Status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("jaeger: GET %s: %w", pathAndQuery, err)
	}
	return nil
}

func httpClient() http.Client { return http.Client{Timeout: 10 * time.Second} }
