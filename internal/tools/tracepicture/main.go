// Command tracepicture renders one trace, read from a Jaeger query API, as a
// self-contained HTML page in the style of a trace viewer's timeline: one row
// per span in parent/child order, a bar per span on a shared time axis, the
// service and the span's attributes. internal/tools/trace-picture.sh opens the
// page in headless Chromium and keeps the screenshot as docs/images/trace.png.
//
//	go run ./internal/tools/tracepicture -jaeger http://127.0.0.1:16686 -trace TRACE_ID -o trace.html
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"
)

func main() {
	jaegerURL := flag.String("jaeger", "http://127.0.0.1:16686", "base URL of the Jaeger query API")
	traceID := flag.String("trace", "", "id of the trace to render (hex)")
	out := flag.String("o", "trace.html", "HTML file to write")
	flag.Parse()
	if *traceID == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, strings.TrimRight(*jaegerURL, "/"), *traceID, *out); err != nil {
		fmt.Fprintln(os.Stderr, "tracepicture:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, baseURL, traceID, out string) error {
	tr, err := fetchTrace(ctx, baseURL, traceID)
	if err != nil {
		return err
	}
	page, err := layout(tr, baseURL)
	if err != nil {
		return fmt.Errorf("trace %s: %w", traceID, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := pageTemplate.Execute(f, page); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", out, err)
	}
	return f.Close()
}

// trace, span, reference, keyValue and process are the parts of Jaeger's
// /api/traces/{id} answer (the model its UI reads) that the picture shows.
type trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []span             `json:"spans"`
	Processes map[string]process `json:"processes"`
}

type span struct {
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the Unix epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []keyValue  `json:"tags"`
	ProcessID     string      `json:"processID"`
}

type reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type process struct {
	ServiceName string `json:"serviceName"`
}

func fetchTrace(ctx context.Context, baseURL, traceID string) (trace, error) {
	u := baseURL + "/api/traces/" + traceID
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return trace{}, err
	}
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return trace{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return trace{}, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return trace{}, fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, body)
	}
	var answer struct {
		Data []trace `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return trace{}, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(answer.Data) != 1 {
		return trace{}, fmt.Errorf("GET %s: %d traces in the answer, want 1", u, len(answer.Data))
	}
	return answer.Data[0], nil
}

// page is what the template draws.
type page struct {
	TraceID, Source  string
	Title            string
	Start            string
	Duration         string
	Services         []serviceCount
	Depth, SpanCount int
	LinkCount        int
	// Timelines are the whole trace and, when most of it is a wait before a
	// burst of short spans, a close-up of that burst.
	Timelines []timeline
}

type serviceCount struct {
	Name, Color string
	Spans       int
}

// timeline is one time axis with a row per span in [from, to].
type timeline struct {
	Heading string
	Ticks   []tick
	Rows    []row
}

type tick struct {
	Left  float64 // percent
	Label string
}

type row struct {
	Indent      int // px
	Service     string
	Color       string
	Operation   string
	Left, Width float64 // percent of the timeline
	Label       string  // duration, and start offset within the trace
	LabelSide   string  // where the label goes: "in" the bar, "right" or "left" of it
	Attributes  string
}

// placedSpan is a span in tree order with its depth and service.
type placedSpan struct {
	span
	depth   int
	service string
}

// palette holds the colours of services, in order of first appearance.
var palette = []string{"#17a2b8", "#f0883e", "#8c6bd6", "#e0555f", "#6aa84f", "#d4a017"}

// attributesShown are the span attributes printed under a span, in this order;
// others are left out to keep the picture readable.
var attributesShown = []string{
	"span.kind", "edgeflow.node.id", "edgeflow.pipeline", "edgeflow.step", "edgeflow.stream",
	"edgeflow.batch.size", "edgeflow.flush.inputs", "edgeflow.readings", "messaging.system",
	"messaging.destination.name", "messaging.kafka.partition", "messaging.kafka.offset", "error",
}

func layout(tr trace, source string) (page, error) {
	if len(tr.Spans) == 0 {
		return page{}, errors.New("no spans")
	}
	byID := map[string]span{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	parent := func(s span) string {
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" && r.TraceID == tr.TraceID {
				if _, ok := byID[r.SpanID]; ok {
					return r.SpanID
				}
			}
		}
		return ""
	}
	children := map[string][]span{}
	links := 0
	start, end := tr.Spans[0].StartTime, tr.Spans[0].StartTime+tr.Spans[0].Duration
	for _, s := range tr.Spans {
		children[parent(s)] = append(children[parent(s)], s)
		start = min(start, s.StartTime)
		end = max(end, s.StartTime+s.Duration)
		links += countRefs(s, "FOLLOWS_FROM")
	}
	for _, c := range children {
		sort.Slice(c, func(i, j int) bool { return c[i].StartTime < c[j].StartTime })
	}
	total := max(end-start, 1)

	p := page{TraceID: tr.TraceID, Source: source + "/api/traces/" + tr.TraceID, SpanCount: len(tr.Spans),
		Start: time.UnixMicro(start).UTC().Format("2006-01-02 15:04:05.000 MST"), Duration: micros(total),
		LinkCount: links}
	colors := map[string]string{}
	count := map[string]int{}
	var spans []placedSpan
	var walk func(id string, depth int)
	walk = func(id string, depth int) {
		for _, s := range children[id] {
			svc := tr.Processes[s.ProcessID].ServiceName
			if _, ok := colors[svc]; !ok {
				colors[svc] = palette[len(colors)%len(palette)]
				p.Services = append(p.Services, serviceCount{Name: svc, Color: colors[svc]})
			}
			count[svc]++
			spans = append(spans, placedSpan{span: s, depth: depth, service: svc})
			p.Depth = max(p.Depth, depth+1)
			walk(s.SpanID, depth+1)
		}
	}
	walk("", 0)
	for i := range p.Services {
		p.Services[i].Spans = count[p.Services[i].Name]
	}
	p.Title = spans[0].service + ": " + spans[0].OperationName

	p.Timelines = append(p.Timelines, newTimeline("", spans, start, start, end, colors, true))
	if from, ok := burst(spans, start, end); ok {
		var late []placedSpan
		for _, s := range spans {
			if s.StartTime >= from {
				late = append(late, s)
			}
		}
		heading := fmt.Sprintf("Close-up of the last %s, from +%s", micros(end-from), micros(from-start))
		p.Timelines = append(p.Timelines, newTimeline(heading, late, start, from, end, colors, false))
	}
	return p, nil
}

// burst finds where the spans that start after the trace's longest quiet gap
// begin, when that gap is more than half of the trace: those spans are too
// short to see on the whole trace's axis.
func burst(spans []placedSpan, start, end int64) (int64, bool) {
	starts := make([]int64, 0, len(spans))
	for _, s := range spans {
		starts = append(starts, s.StartTime)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	busyUntil := start // the end of the spans started so far
	var gap, from int64
	for _, st := range starts {
		if g := st - busyUntil; g > gap {
			gap, from = g, st
		}
		for _, s := range spans {
			if s.StartTime == st {
				busyUntil = max(busyUntil, s.StartTime+s.Duration)
			}
		}
	}
	return from, gap*2 > end-start && from > start
}

// newTimeline lays out spans on an axis from `from` to `to`; labels give
// offsets from the trace's start; withAttributes prints attributes under spans.
func newTimeline(heading string, spans []placedSpan, traceStart, from, to int64, colors map[string]string, withAttributes bool) timeline {
	total := max(to-from, 1)
	tl := timeline{Heading: heading}
	minDepth := spans[0].depth
	for _, s := range spans {
		minDepth = min(minDepth, s.depth)
	}
	for _, s := range spans {
		left := 100 * float64(s.StartTime-from) / float64(total)
		width := 100 * float64(s.Duration) / float64(total)
		side := "in"
		switch {
		case width >= 25:
		case left+width < 70:
			side = "right"
		default:
			side = "left"
		}
		width = max(width, 0.3)     // visible however short
		left = min(left, 100-width) // and inside the lane
		r := row{Indent: 4 + 18*(s.depth-minDepth), Service: s.service, Color: colors[s.service],
			Operation: s.OperationName, Left: left, Width: width,
			Label: micros(s.Duration) + " at +" + micros(s.StartTime-traceStart), LabelSide: side}
		if withAttributes {
			r.Attributes = attributes(s.span)
		}
		tl.Rows = append(tl.Rows, r)
	}
	for i := 0; i <= 4; i++ {
		tl.Ticks = append(tl.Ticks, tick{Left: float64(i) * 25, Label: "+" + micros(from-traceStart+total*int64(i)/4)})
	}
	return tl
}

func attributes(s span) string {
	var parts []string
	for _, key := range attributesShown {
		for _, kv := range s.Tags {
			if kv.Key == key {
				parts = append(parts, fmt.Sprintf("%s=%v", key, kv.Value))
			}
		}
	}
	if n := countRefs(s, "FOLLOWS_FROM"); n > 0 {
		parts = append(parts, fmt.Sprintf("links=%d", n))
	}
	return strings.Join(parts, " · ")
}

func countRefs(s span, kind string) int {
	n := 0
	for _, r := range s.References {
		if r.RefType == kind {
			n++
		}
	}
	return n
}

// micros formats a duration given in microseconds the way trace viewers do.
func micros(us int64) string {
	switch {
	case us >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	case us >= 1000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%dµs", us)
}

var pageTemplate = template.Must(template.New("trace").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body { margin: 0; font: 13px/1.35 "DejaVu Sans", sans-serif; color: #222; background: #fff; }
header { background: #199; color: #fff; padding: 10px 18px; }
header h1 { font-size: 18px; margin: 0 0 2px 0; font-weight: 600; }
header .id { font: 12px "DejaVu Sans Mono", monospace; opacity: .9; }
.summary { padding: 8px 18px; border-bottom: 1px solid #ddd; background: #f6f6f6; }
.summary b { margin-right: 4px; } .summary span { margin-right: 22px; }
.chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.grid { display: grid; grid-template-columns: 38% 62%; }
.axis { border-bottom: 1px solid #ccc; background: #fafafa; height: 24px; position: relative; }
.axis .t { position: absolute; top: 5px; font-size: 11px; color: #555; transform: translateX(-50%); white-space: nowrap; }
.axis .t:first-child { transform: none; } .axis .t:last-child { transform: translateX(-100%); }
.name { padding: 5px 8px 5px 10px; border-right: 1px solid #ddd; border-bottom: 1px solid #eee; overflow: hidden; }
.name .op { font-weight: 600; } .name .svc { color: #555; margin-right: 6px; }
.name .attrs { font: 11px "DejaVu Sans Mono", monospace; color: #666; margin-top: 2px; white-space: normal; }
.lane { position: relative; border-bottom: 1px solid #eee; }
.lane .gl { position: absolute; top: 0; bottom: 0; width: 1px; background: #eee; }
.bar { position: absolute; top: 6px; height: 16px; border-radius: 2px; min-width: 3px; }
.bar .d { position: absolute; top: 0; font-size: 11px; line-height: 16px; color: #222; white-space: nowrap; padding: 0 5px; }
.bar .in { left: 0; color: #fff; } .bar .right { left: 100%; } .bar .left { right: 100%; }
.left-col-head { padding: 4px 10px; font-size: 11px; color: #555; border-right: 1px solid #ddd; border-bottom: 1px solid #ccc; background: #fafafa; }
h2 { font-size: 13px; margin: 0; padding: 8px 18px 6px; background: #f6f6f6; border-top: 1px solid #ccc; border-bottom: 1px solid #ddd; }
footer { padding: 8px 18px; font-size: 11px; color: #777; }
</style></head>
<body>
<header><h1>{{.Title}}</h1><div class="id">trace {{.TraceID}}</div></header>
<div class="summary">
<span><b>Trace start</b>{{.Start}}</span><span><b>Duration</b>{{.Duration}}</span>
<span><b>Services</b>{{range .Services}}<i class="chip" style="background:{{.Color}}"></i>{{.Name}} ({{.Spans}}) {{end}}</span>
<span><b>Depth</b>{{.Depth}}</span><span><b>Total spans</b>{{.SpanCount}}</span>{{if .LinkCount}}<span><b>Links</b>{{.LinkCount}}</span>{{end}}
</div>
{{range .Timelines}}{{if .Heading}}<h2>{{.Heading}}</h2>{{end}}
<div class="grid">
<div class="left-col-head">Service &amp; operation</div>
<div class="axis">{{range .Ticks}}<div class="t" style="left:{{.Left}}%">{{.Label}}</div>{{end}}</div>
{{$ticks := .Ticks}}{{range .Rows}}
<div class="name" style="padding-left:{{.Indent}}px; border-left: 4px solid {{.Color}}"><span class="svc">{{.Service}}</span><span class="op">{{.Operation}}</span>
{{if .Attributes}}<div class="attrs">{{.Attributes}}</div>{{end}}</div>
<div class="lane">{{range $ticks}}<div class="gl" style="left:{{.Left}}%"></div>{{end}}
<div class="bar" style="left:{{.Left}}%; width:{{.Width}}%; background:{{.Color}}"><span class="d {{.LabelSide}}">{{.Label}}</span></div></div>
{{end}}
</div>
{{end}}
<footer>Rendered by internal/tools/tracepicture from {{.Source}} (Jaeger query API).</footer>
</body></html>
`))
