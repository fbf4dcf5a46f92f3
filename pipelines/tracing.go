package pipelines

import (
	"context"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
)

// This file: tracing of every message as middleware of the runtime, never
// inside a stage. Spans (docs/observability.md, "Traces"):
//
//	ingest <stage id>   a source emitted a message (continues a traceparent in its metadata)
//	process <stage id>  one call of a processor, child of the message's span
//	flush <stage id>    a buffering processor emitted output; child of the first
//	                    sampled input since its previous output, linked to the others
//	publish <topic>     a messaging sink (Kafka) wrote a batch; write <stage id> for other sinks
//
// Sinks write the context of their span into each message's metadata
// (traceparent, tracestate, baggage), which the Kafka sink turns into headers.
// Sampling is parent-based: below an unsampled ingest span no spans are
// started, the unsampled context is only passed on.

// MessagingSink is implemented by sinks that publish to a messaging system;
// tracing then names their spans "publish <destination>" with the messaging
// attributes.
type MessagingSink interface {
	MessagingSystem() string // "kafka"
	Destination() string     // the topic
}

// WithTracing traces every message of the pipeline with spans from tp. A nil
// or no-op tp traces nothing and costs nothing.
func WithTracing(tp trace.TracerProvider) RunnerOption {
	return func(c *runnerConfig) { c.tracerProvider = tp }
}

// pipelineTracer starts the spans of one Runner.
type pipelineTracer struct {
	tracer trace.Tracer
	node   string
	bag    baggage.Baggage // edgeflow.node.id and edgeflow.pipeline
	base   []attribute.KeyValue
}

// newPipelineTracer returns nil when tp traces nothing.
func newPipelineTracer(tp trace.TracerProvider, env stages.Env) *pipelineTracer {
	if tp == nil {
		return nil
	}
	if _, ok := tp.(noop.TracerProvider); ok {
		return nil
	}
	t := &pipelineTracer{
		tracer: tp.Tracer(telemetry.TracerName),
		node:   env.Node.ID,
		bag:    telemetry.NodeBaggage(baggage.Baggage{}, env.Node.ID, env.Pipeline),
		base:   []attribute.KeyValue{telemetry.AttrPipeline.String(env.Pipeline)},
	}
	if env.Node.ID != "" {
		t.base = append(t.base, telemetry.AttrNodeID.String(env.Node.ID))
	}
	return t
}

// stepAttrs are the attributes every span of step carries.
func (t *pipelineTracer) stepAttrs(step Step, more ...attribute.KeyValue) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, len(t.base)+1+len(more))
	attrs = append(attrs, t.base...)
	attrs = append(attrs, telemetry.AttrStep.String(step.Path))
	return append(attrs, more...)
}

func stageID(step Step) string {
	if step.Reg != nil && step.Reg.ID != "" {
		return step.Reg.ID
	}
	return step.Path
}

// sourceTracer starts the ingest spans of one source.
type sourceTracer struct {
	t     *pipelineTracer
	name  string
	attrs []attribute.KeyValue
	opts  []trace.SpanStartOption // made once: options passed to Start cost an allocation each
}

func (t *pipelineTracer) source(step Step) *sourceTracer {
	if t == nil {
		return nil
	}
	return &sourceTracer{t: t, name: "ingest " + stageID(step), attrs: t.stepAttrs(step),
		opts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}}
}

// start begins the ingest span of msg; ctx holds the values the source gave
// the message. A traceparent in the metadata (a message that crossed Kafka or
// MQTT) is continued. Baggage that came with the message gets the node's
// members; a message without baggage gets the node's baggage only when a sink
// writes it out (one context value less per message).
func (s *sourceTracer) start(ctx context.Context, msg *message.Message) (context.Context, trace.Span) {
	ctx = telemetry.ExtractMetadata(ctx, msg.Metadata)
	if b := baggage.FromContext(ctx); b.Len() > 0 {
		ctx = baggage.ContextWithBaggage(ctx, telemetry.NodeBaggage(b, s.t.node, s.t.bag.Member(string(telemetry.AttrPipeline)).Value()))
	}
	ctx, span := s.t.tracer.Start(ctx, s.name, s.opts...)
	if span.IsRecording() {
		span.SetAttributes(s.attrs...)
		if st := msg.Metadata.Get(stages.MetaStream); st != "" {
			span.SetAttributes(telemetry.AttrStream.String(st))
		}
	}
	return ctx, span
}

// endSpan ends span, marking it failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// tracingMiddleware is the StageMiddleware of tracing.
func (t *pipelineTracer) tracingMiddleware(step Step, next stages.Processor) stages.Processor {
	p := &tracingProcessor{t: t, name: "process " + stageID(step), attrs: t.stepAttrs(step), next: next}
	if f, ok := next.(stages.Flusher); ok {
		return &tracingFlusher{tracingProcessor: p, flusher: f, name: "flush " + stageID(step)}
	}
	return p
}

type tracingProcessor struct {
	t     *pipelineTracer
	name  string
	attrs []attribute.KeyValue
	next  stages.Processor
}

func (p *tracingProcessor) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	ctx, span := p.start(ctx, trace.SpanContextFromContext(ctx), msg)
	out, err := p.next.Process(ctx, msg)
	if span != nil {
		if span.IsRecording() && err == nil && len(out) != 1 {
			span.SetAttributes(telemetry.AttrBatchSize.Int(len(out)))
		}
		endSpan(span, err)
	}
	return out, err
}

// start begins the process span of msg, whose span context in ctx is sc, or
// returns ctx and nil when the message's trace is not sampled.
func (p *tracingProcessor) start(ctx context.Context, sc trace.SpanContext, msg *message.Message) (context.Context, trace.Span) {
	if !sc.IsSampled() {
		return ctx, nil
	}
	ctx, span := p.t.tracer.Start(ctx, p.name)
	if span.IsRecording() {
		span.SetAttributes(p.attrs...)
		if st := msg.Metadata.Get(stages.MetaStream); st != "" {
			span.SetAttributes(telemetry.AttrStream.String(st))
		}
	}
	return ctx, span
}

// tracingFlusher traces a buffering processor: it remembers the span contexts
// of the inputs since the stage's previous output, and gives each output (of
// Process or Flush) the context of a flush span whose parent is the first
// sampled input (else the first input) and which links to the other sampled
// ones, up to telemetry.MaxFlushLinks.
type tracingFlusher struct {
	*tracingProcessor
	flusher stages.Flusher
	name    string

	mu           sync.Mutex
	inputs       int
	first        trace.SpanContext // of the first input
	firstSampled trace.SpanContext // of the first sampled input
	links        []trace.Link
	linksDropped int
}

func (f *tracingFlusher) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	// The runtime serialises the calls of a processor; mu only guards against
	// callers that do not.
	f.mu.Lock()
	defer f.mu.Unlock()
	sc := trace.SpanContextFromContext(ctx)
	sctx, span := f.start(ctx, sc, msg)
	out, err := f.next.Process(sctx, msg)
	if err == nil {
		f.remember(sc)
		if len(out) > 0 {
			// The flush span starts when the output came out: reading the clock
			// before every call would cost more than the span tells.
			f.flushed(ctx, time.Time{}, out, nil)
		}
	}
	if span != nil {
		if span.IsRecording() && err == nil && len(out) != 1 {
			span.SetAttributes(telemetry.AttrBatchSize.Int(len(out)))
		}
		endSpan(span, err)
	}
	return out, err
}

func (f *tracingFlusher) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var start time.Time
	if f.firstSampled.IsValid() {
		start = time.Now()
	}
	out, err := f.flusher.Flush(ctx, mode)
	if len(out) > 0 || err != nil {
		f.flushed(ctx, start, out, err)
	}
	return out, err
}

// remember notes the span context of one input; under mu.
func (f *tracingFlusher) remember(sc trace.SpanContext) {
	f.inputs++
	if f.inputs == 1 {
		f.first = sc
	}
	if !sc.IsSampled() {
		return
	}
	switch {
	case !f.firstSampled.IsValid():
		f.firstSampled = sc
	case len(f.links) < telemetry.MaxFlushLinks:
		f.links = append(f.links, trace.Link{SpanContext: sc})
	default:
		f.linksDropped++
	}
}

// flushed gives out the context of the flush span (or, when no input was
// sampled, of the first input) and forgets the inputs; under mu. A failed Flush
// (err) records a failed flush span and keeps the inputs.
func (f *tracingFlusher) flushed(ctx context.Context, start time.Time, out []*message.Message, err error) {
	parent := f.firstSampled
	if !parent.IsValid() {
		parent = f.first
	}
	if !parent.IsValid() {
		f.reset()
		return
	}
	if !parent.IsSampled() {
		if err == nil {
			for _, m := range out {
				if m != nil && !trace.SpanContextFromContext(m.Context()).Equal(parent) {
					m.SetContext(trace.ContextWithSpanContext(m.Context(), parent))
				}
			}
			f.reset()
		}
		return
	}
	attrs := append(f.attrs[:len(f.attrs):len(f.attrs)],
		telemetry.AttrBatchSize.Int(len(out)), telemetry.AttrFlushInputs.Int(f.inputs))
	if f.linksDropped > 0 {
		attrs = append(attrs, telemetry.AttrFlushLinksDropped.Int(f.linksDropped))
	}
	if start.IsZero() {
		start = time.Now()
	}
	_, span := f.t.tracer.Start(trace.ContextWithSpanContext(ctx, parent), f.name,
		trace.WithTimestamp(start), trace.WithLinks(f.links...), trace.WithAttributes(attrs...))
	if err != nil {
		endSpan(span, err)
		return
	}
	for _, m := range out {
		if m != nil {
			m.SetContext(trace.ContextWithSpan(m.Context(), span))
		}
	}
	span.End()
	f.reset()
}

func (f *tracingFlusher) reset() {
	f.inputs, f.linksDropped = 0, 0
	f.first, f.firstSampled = trace.SpanContext{}, trace.SpanContext{}
	clear(f.links)
	f.links = f.links[:0]
}

// tracingSink wraps a sink: one span per Write and parent trace in the batch,
// whose context is written into the metadata of the messages before they go out.
type tracingSink struct {
	t     *pipelineTracer
	name  string
	kind  trace.SpanKind
	attrs []attribute.KeyValue
	next  stages.Sink
}

func (t *pipelineTracer) sinkMiddleware(step Step, next stages.Sink) stages.Sink {
	s := &tracingSink{t: t, name: "write " + stageID(step), kind: trace.SpanKindInternal, next: next}
	if ms, ok := next.(MessagingSink); ok {
		s.name, s.kind = "publish "+ms.Destination(), trace.SpanKindProducer
		s.attrs = t.stepAttrs(step, telemetry.AttrMessagingSystem.String(ms.MessagingSystem()),
			telemetry.AttrMessagingDestination.String(ms.Destination()))
	} else {
		s.attrs = t.stepAttrs(step)
	}
	return s
}

func (s *tracingSink) Write(ctx context.Context, msgs []*message.Message) error {
	var spans []trace.Span
	for i := 0; i < len(msgs); {
		// A run of messages with the same parent span gets one span.
		mctx := msgCtx(ctx, msgs[i])
		parent := trace.SpanContextFromContext(mctx)
		j := i + 1
		for j < len(msgs) && trace.SpanContextFromContext(msgCtx(ctx, msgs[j])).Equal(parent) {
			j++
		}
		if baggage.FromContext(mctx).Len() == 0 {
			mctx = baggage.ContextWithBaggage(mctx, s.t.bag)
		}
		if parent.IsSampled() {
			var span trace.Span
			mctx, span = s.t.tracer.Start(mctx, s.name, trace.WithSpanKind(s.kind))
			if span.IsRecording() {
				span.SetAttributes(s.attrs...)
				span.SetAttributes(telemetry.AttrBatchSize.Int(j - i))
				if st := commonStream(msgs[i:j]); st != "" {
					span.SetAttributes(telemetry.AttrStream.String(st))
				}
			}
			spans = append(spans, span)
		}
		for _, m := range msgs[i:j] {
			if m.Metadata == nil {
				m.Metadata = message.Metadata{}
			}
			telemetry.InjectMetadata(mctx, m.Metadata)
		}
		i = j
	}
	err := s.next.Write(ctx, msgs)
	for _, span := range spans {
		endSpan(span, err)
	}
	return err
}

func msgCtx(ctx context.Context, m *message.Message) context.Context {
	if c := m.Context(); c != context.Background() {
		return c
	}
	return ctx
}

// commonStream is the stream all msgs belong to, or "".
func commonStream(msgs []*message.Message) string {
	st := ""
	for i, m := range msgs {
		s := m.Metadata.Get(stages.MetaStream)
		if i == 0 {
			st = s
		} else if s != st {
			return ""
		}
	}
	return st
}
