package pipelines

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
)

// recordingProvider returns a tracer provider sampling ratio of new traces and
// the recorder of its ended spans.
func recordingProvider(t *testing.T, ratio float64) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(telemetry.Sampler(ratio)), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// writtenMessage is what a sink middleware outside tracing saw after a write.
type writtenMessage struct {
	payload  string
	metadata map[string]string
}

// captureWrites is a SinkMiddleware recording each message's payload and
// metadata after the wrapped sink (and tracing) wrote it.
type captureWrites struct {
	mu   sync.Mutex
	msgs []writtenMessage
}

func (c *captureWrites) middleware(step Step, next stages.Sink) stages.Sink {
	return traceSinkFunc(func(ctx context.Context, msgs []*message.Message) error {
		err := next.Write(ctx, msgs)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range msgs {
			md := map[string]string{}
			for k, v := range m.Metadata {
				md[k] = v
			}
			c.msgs = append(c.msgs, writtenMessage{string(m.Payload), md})
		}
		return err
	})
}

type traceSinkFunc func(ctx context.Context, msgs []*message.Message) error

func (f traceSinkFunc) Write(ctx context.Context, msgs []*message.Message) error { return f(ctx, msgs) }

// spansNamed returns the ended spans called name.
func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attrOf(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// remoteContext parses the traceparent (and baggage) of written metadata.
func remoteContext(md map[string]string) context.Context {
	return telemetry.Propagator().Extract(context.Background(), propagation.MapCarrier(md))
}

func TestTracingSpans(t *testing.T) {
	tp, rec := recordingProvider(t, 1)
	var cw captureWrites
	p := testPipeline("traced", []*rtSrcConfig{{Name: "s", Messages: []string{"a", "b"}}},
		[]*rtProcConfig{{Mode: "pass"}, {Mode: "upper"}}, []*rtSinkConfig{{Name: "out"}})
	if _, err := runPipeline(t, context.Background(), p, fastOpts(WithTracing(tp), WithSinkMiddleware(cw.middleware))...); err != nil {
		t.Fatal(err)
	}

	ingest := spansNamed(rec, "ingest rt-src")
	process := spansNamed(rec, "process rt-proc")
	write := spansNamed(rec, "write rt-sink")
	if len(ingest) != 2 || len(process) != 4 || len(write) != 2 {
		t.Fatalf("spans: %d ingest, %d process, %d write; want 2, 4, 2", len(ingest), len(process), len(write))
	}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range ingest {
		if s.Parent().IsValid() {
			t.Errorf("ingest span has a parent %v; want a new trace", s.Parent())
		}
		if s.SpanKind() != trace.SpanKindProducer {
			t.Errorf("ingest kind %v", s.SpanKind())
		}
	}
	for _, s := range append(process, write...) {
		parent, ok := byID[s.Parent().SpanID()]
		if !ok || parent.Name() != "ingest rt-src" || parent.SpanContext().TraceID() != s.SpanContext().TraceID() {
			t.Errorf("%s: parent %v, want the message's ingest span", s.Name(), s.Parent())
		}
		for key, want := range map[attribute.Key]string{telemetry.AttrNodeID: "node-1", telemetry.AttrPipeline: "traced"} {
			if v, _ := attrOf(s, key); v.AsString() != want {
				t.Errorf("%s: %s = %q, want %q", s.Name(), key, v.AsString(), want)
			}
		}
	}
	if v, _ := attrOf(process[0], telemetry.AttrStep); !strings.HasPrefix(v.AsString(), "stages[") {
		t.Errorf("process edgeflow.step = %q", v.AsString())
	}
	if v, _ := attrOf(write[0], telemetry.AttrStep); v.AsString() != "sinks[0] (rt-sink)" {
		t.Errorf("write edgeflow.step = %q", v.AsString())
	}

	// Each written message carries the context of its write span and the node's baggage.
	if len(cw.msgs) != 2 {
		t.Fatalf("captured %d messages", len(cw.msgs))
	}
	writeIDs := map[trace.SpanID]bool{}
	for _, s := range write {
		writeIDs[s.SpanContext().SpanID()] = true
	}
	for _, m := range cw.msgs {
		ctx := remoteContext(m.metadata)
		sc := trace.SpanContextFromContext(ctx)
		if !writeIDs[sc.SpanID()] || !sc.IsSampled() {
			t.Errorf("message %s: traceparent %q is not a write span", m.payload, m.metadata[telemetry.MetaTraceparent])
		}
		bag := baggage.FromContext(ctx)
		if bag.Member("edgeflow.node.id").Value() != "node-1" || bag.Member("edgeflow.pipeline").Value() != "traced" {
			t.Errorf("message %s: baggage %q", m.payload, m.metadata[telemetry.MetaBaggage])
		}
	}
}

func TestTracingFlushLinks(t *testing.T) {
	tests := []struct {
		name         string
		inputs       int
		wantLinks    int
		wantDropped  int64
		wantDroppedK bool
	}{
		{name: "three inputs", inputs: 3, wantLinks: 2},
		{name: "over the link cap", inputs: telemetry.MaxFlushLinks + 20, wantLinks: telemetry.MaxFlushLinks, wantDropped: 19, wantDroppedK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, rec := recordingProvider(t, 1)
			var cw captureWrites
			msgs := make([]string, tt.inputs)
			for i := range msgs {
				msgs[i] = fmt.Sprintf("m%d", i)
			}
			p := testPipeline("flushed", []*rtSrcConfig{{Name: "s", Messages: msgs}},
				[]*rtProcConfig{{Mode: "buffer"}, {Mode: "upper"}}, []*rtSinkConfig{{Name: "out"}})
			if _, err := runPipeline(t, context.Background(), p, fastOpts(WithTracing(tp), WithSinkMiddleware(cw.middleware))...); err != nil {
				t.Fatal(err)
			}
			ingest := spansNamed(rec, "ingest rt-src")
			flush := spansNamed(rec, "flush rt-proc")
			if len(ingest) != tt.inputs || len(flush) != 1 {
				t.Fatalf("%d ingest, %d flush spans; want %d, 1", len(ingest), len(flush), tt.inputs)
			}
			// The first input's ingest span: it was emitted first, so it ended first.
			first := ingest[0]
			f := flush[0]
			if f.Parent().SpanID() != first.SpanContext().SpanID() || f.SpanContext().TraceID() != first.SpanContext().TraceID() {
				t.Errorf("flush parent %v, want the first input's span %v", f.Parent(), first.SpanContext())
			}
			if len(f.Links()) != tt.wantLinks {
				t.Errorf("flush has %d links, want %d", len(f.Links()), tt.wantLinks)
			}
			for i, l := range f.Links() {
				if l.SpanContext.SpanID() != ingest[i+1].SpanContext().SpanID() {
					t.Errorf("link %d is %v, want input %d's span", i, l.SpanContext.SpanID(), i+1)
					break
				}
			}
			if v, _ := attrOf(f, telemetry.AttrFlushInputs); v.AsInt64() != int64(tt.inputs) {
				t.Errorf("edgeflow.flush.inputs = %d, want %d", v.AsInt64(), tt.inputs)
			}
			if v, ok := attrOf(f, telemetry.AttrFlushLinksDropped); ok != tt.wantDroppedK || v.AsInt64() != tt.wantDropped {
				t.Errorf("edgeflow.flush.links_dropped = %v (set %v), want %d", v.AsInt64(), ok, tt.wantDropped)
			}
			// The processor after the buffer and the sink continue the flush span.
			for _, name := range []string{"process rt-proc", "write rt-sink"} {
				var found bool
				for _, s := range spansNamed(rec, name) {
					if s.Parent().SpanID() == f.SpanContext().SpanID() {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s span under the flush span", name)
				}
			}
			if len(cw.msgs) != 1 {
				t.Fatalf("captured %d messages, want the one flushed", len(cw.msgs))
			}
			sc := trace.SpanContextFromContext(remoteContext(cw.msgs[0].metadata))
			if sc.TraceID() != first.SpanContext().TraceID() {
				t.Errorf("flushed message traceparent %q is not in the first input's trace", cw.msgs[0].metadata[telemetry.MetaTraceparent])
			}
		})
	}
}

// A message that arrives with a traceparent (from Kafka or MQTT) continues its trace.
func TestTracingContinuesIncomingTrace(t *testing.T) {
	tp, rec := recordingProvider(t, 1)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	src := &traceparentSource{traceparent: traceparent}
	p := testPipeline("remote", nil, nil, []*rtSinkConfig{{Name: "out"}})
	p.Sources = []Step{{Path: "sources[0] (tp-src)", Reg: traceparentSourceReg, Config: src}}
	if _, err := runPipeline(t, context.Background(), p, fastOpts(WithTracing(tp))...); err != nil {
		t.Fatal(err)
	}
	ingest := spansNamed(rec, "ingest tp-src")
	if len(ingest) != 1 {
		t.Fatalf("%d ingest spans", len(ingest))
	}
	s := ingest[0]
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Errorf("ingest span %v with parent %v; want the incoming trace continued", s.SpanContext(), s.Parent())
	}
}

var traceparentSourceReg = func() *stages.Registration {
	stages.RegisterSource(stages.Info{ID: "tp-src", Summary: "emits one message with a traceparent"},
		func() *traceparentSource { return &traceparentSource{} },
		func(_ context.Context, cfg *traceparentSource, _ stages.Env) (stages.Source, error) { return cfg, nil })
	r, _ := stages.Lookup(stages.KindSource, "tp-src")
	return r
}()

type traceparentSource struct {
	traceparent string
}

func (s *traceparentSource) Validate() error { return nil }

func (s *traceparentSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	m := message.NewMessage("m1", []byte("x"))
	m.Metadata.Set(telemetry.MetaTraceparent, s.traceparent)
	return emit(ctx, m)
}

// Unsampled traces record nothing, but the messages still carry their
// (unsampled) trace context, so the cloud side does not start traces of its own.
func TestTracingUnsampled(t *testing.T) {
	tp, rec := recordingProvider(t, 0)
	var cw captureWrites
	p := testPipeline("unsampled", []*rtSrcConfig{{Name: "s", Messages: []string{"a", "b", "c"}}},
		[]*rtProcConfig{{Mode: "buffer"}}, []*rtSinkConfig{{Name: "out"}})
	if _, err := runPipeline(t, context.Background(), p, fastOpts(WithTracing(tp), WithSinkMiddleware(cw.middleware))...); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded at ratio 0", n)
	}
	if len(cw.msgs) != 1 {
		t.Fatalf("captured %d messages", len(cw.msgs))
	}
	sc := trace.SpanContextFromContext(remoteContext(cw.msgs[0].metadata))
	if !sc.IsValid() || sc.IsSampled() {
		t.Errorf("traceparent %q: want a valid, unsampled context", cw.msgs[0].metadata[telemetry.MetaTraceparent])
	}
}

// Without tracing, or with a no-op provider, no trace metadata is added.
func TestTracingOff(t *testing.T) {
	for _, opt := range []RunnerOption{WithTracing(nil), WithTracing(noop.NewTracerProvider())} {
		var cw captureWrites
		p := testPipeline("off", []*rtSrcConfig{{Name: "s", Messages: []string{"a"}}}, nil, []*rtSinkConfig{{Name: "out"}})
		if _, err := runPipeline(t, context.Background(), p, fastOpts(opt, WithSinkMiddleware(cw.middleware))...); err != nil {
			t.Fatal(err)
		}
		if len(cw.msgs) != 1 || cw.msgs[0].metadata[telemetry.MetaTraceparent] != "" {
			t.Errorf("messages %v: want one, without traceparent", cw.msgs)
		}
	}
}
