package pipelines

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// meterName is the instrumentation scope of pipeline metrics.
const meterName = "github.com/edgeflow/edgeflow/pipelines"

// Label names of pipeline metrics.
const (
	LabelNode     = "node"     // edge node id
	LabelPipeline = "pipeline" // pipeline name
	LabelStep     = "step"     // where the step is in its file: sources[0], stages[1], sinks[0]
	LabelStage    = "stage"    // stage id: generate, encode, kafka …
	LabelOp       = "op"       // what a duration measures: process, flush (processors) or write (sinks)
	LabelCodec    = "codec"    // frame codec: zstd, lz4, zlib, none, f32-diff-zlib
	LabelOutcome  = "outcome"  // what became of source messages: acked, nacked, dropped, flush_dropped
)

// metricBuckets are the bounds, in seconds, of the stage duration histogram
// (telemetry.DurationBuckets; pipelines does not import telemetry).
var metricBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Metrics instruments the pipelines of one edge node with OpenTelemetry:
//
//   - edgeflow_stage_messages_in_total, _out_total, _errors_total: the Runner's
//     own counters (Stats), observed at each collection;
//   - edgeflow_stage_duration_seconds: a histogram of the time spent in each
//     processor call (op process or flush) and sink write (op write), by
//     middleware (RunnerOptions);
//   - edgeflow_pipeline_messages_total{outcome}: source messages acked,
//     nacked, dropped, and flushed output dropped (Stats again);
//   - edgeflow_dead_letter_total: inputs that could not be parsed, by the step
//     that gave up on them (Stats.DeadLetters; docs/reliability.md);
//   - edgeflow_encode_bytes_raw_total, edgeflow_encode_bytes_encoded_total and
//     the gauge edgeflow_encode_compression_ratio (raw/encoded) for every
//     processor that turns readings into frames (encode), per codec.
//
// Every metric has the labels node, pipeline, step and stage. The middleware
// does not allocate per message; counting the frames an encoder emits costs
// two small allocations per frame (its header's node and stream names).
type Metrics struct {
	node     string
	meter    metric.Meter
	duration metric.Float64Histogram

	mu      sync.Mutex
	encoded []*encodeCounters
}

// NewMetrics makes the instruments for the pipelines of node nodeID from mp.
func NewMetrics(mp metric.MeterProvider, nodeID string) (*Metrics, error) {
	meter := mp.Meter(meterName)
	d, err := meter.Float64Histogram("edgeflow.stage.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent in one call of a stage: a processor's Process or Flush, a sink's Write."),
		metric.WithExplicitBucketBoundaries(metricBuckets...))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	return &Metrics{node: nodeID, meter: meter, duration: d}, nil
}

// RunnerOptions are the middleware that time stages and count encoded bytes;
// give them to Build (or to the edge runtime) for every pipeline.
func (m *Metrics) RunnerOptions() []RunnerOption {
	return []RunnerOption{WithStageMiddleware(m.stageMiddleware), WithSinkMiddleware(m.sinkMiddleware)}
}

// Observe registers the message counters of the runners whose Stats stats
// returns (edge.Runtime.Stats, or a Runner's Stats in a slice), and the encode
// byte counters, read at each collection. Unregister the result when the
// runners are gone.
func (m *Metrics) Observe(stats func() []Stats) (metric.Registration, error) {
	in, err := m.meter.Int64ObservableCounter("edgeflow.stage.messages.in", metric.WithUnit("{message}"),
		metric.WithDescription("Messages into a processor, and messages a sink wrote."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	out, err := m.meter.Int64ObservableCounter("edgeflow.stage.messages.out", metric.WithUnit("{message}"),
		metric.WithDescription("Messages a source handed to its pipeline, and messages out of a processor (Process and Flush)."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	errs, err := m.meter.Int64ObservableCounter("edgeflow.stage.messages.errors", metric.WithUnit("{message}"),
		metric.WithDescription("Failed processor calls and sink writes, and source messages nacked back to their source."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	raw, err := m.meter.Int64ObservableCounter("edgeflow.encode.bytes.raw", metric.WithUnit("{byte}"),
		metric.WithDescription("Bytes the readings in emitted frames take uncompressed: 16 per reading (8-byte timestamp, 8-byte float64)."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	enc, err := m.meter.Int64ObservableCounter("edgeflow.encode.bytes.encoded", metric.WithUnit("{byte}"),
		metric.WithDescription("Bytes of the emitted frames, as published."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	outcomes, err := m.meter.Int64ObservableCounter("edgeflow.pipeline.messages", metric.WithUnit("{message}"),
		metric.WithDescription("What became of source messages: acked (every sink wrote what came of them), nacked (a failed delivery reported to the source), dropped (failed beyond the allowed redeliveries), flush_dropped (flushed output no sink took)."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	deadLetters, err := m.meter.Int64ObservableCounter("edgeflow.dead_letter", metric.WithUnit("{message}"),
		metric.WithDescription("Inputs that could not be parsed, by the step that gave up on them, sent to the pipeline's dead_letter: sink (or logged and dropped without one)."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	ratio, err := m.meter.Float64ObservableGauge("edgeflow.encode.compression_ratio",
		metric.WithDescription("Raw bytes over encoded bytes of everything the step emitted so far."))
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	reg, err := m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		for _, s := range stats() {
			for _, oc := range []struct {
				name string
				n    uint64
			}{{"acked", s.Acked}, {"nacked", s.Nacked}, {"dropped", s.Dropped}, {"flush_dropped", s.FlushDropped}} {
				o.ObserveInt64(outcomes, int64(oc.n), metric.WithAttributeSet(m.pipelineAttributes(s.Pipeline, oc.name)))
			}
			for _, st := range s.Stages {
				step, stage := splitStepPath(st.Path)
				set := metric.WithAttributeSet(m.attributes(s.Pipeline, step, stage))
				switch st.Kind {
				case stages.KindSource:
					o.ObserveInt64(out, int64(st.Out), set)
				case stages.KindSink:
					o.ObserveInt64(in, int64(st.In), set)
				default:
					o.ObserveInt64(in, int64(st.In), set)
					o.ObserveInt64(out, int64(st.Out), set)
				}
				o.ObserveInt64(errs, int64(st.Errors), set)
			}
			for _, dl := range s.DeadLetters {
				step, stage := splitStepPath(dl.Path)
				o.ObserveInt64(deadLetters, int64(dl.Count), metric.WithAttributeSet(m.attributes(s.Pipeline, step, stage)))
			}
		}
		m.mu.Lock()
		encoded := m.encoded
		m.mu.Unlock()
		for _, c := range encoded {
			for codec := range c.codecs {
				r, e := c.codecs[codec].raw.Load(), c.codecs[codec].encoded.Load()
				if e == 0 {
					continue
				}
				set := metric.WithAttributeSet(c.attrs[codec])
				o.ObserveInt64(raw, int64(r), set)
				o.ObserveInt64(enc, int64(e), set)
				o.ObserveFloat64(ratio, float64(r)/float64(e), set)
			}
		}
		return nil
	}, in, out, errs, outcomes, raw, enc, ratio, deadLetters)
	if err != nil {
		return nil, fmt.Errorf("pipelines: metrics: %w", err)
	}
	return reg, nil
}

// attributes are the labels of one step.
func (m *Metrics) attributes(pipeline, step, stage string, extra ...attribute.KeyValue) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, 4+len(extra))
	if m.node != "" {
		kvs = append(kvs, attribute.String(LabelNode, m.node))
	}
	kvs = append(kvs, attribute.String(LabelPipeline, pipeline), attribute.String(LabelStep, step),
		attribute.String(LabelStage, stage))
	return attribute.NewSet(append(kvs, extra...)...)
}

// pipelineAttributes are the labels of a pipeline-wide count.
func (m *Metrics) pipelineAttributes(pipeline, outcome string) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, 3)
	if m.node != "" {
		kvs = append(kvs, attribute.String(LabelNode, m.node))
	}
	return attribute.NewSet(append(kvs, attribute.String(LabelPipeline, pipeline), attribute.String(LabelOutcome, outcome))...)
}

// splitStepPath splits a Step.Path, "stages[1] (encode)", into the step
// ("stages[1]") and the stage id ("encode").
func splitStepPath(path string) (step, stage string) {
	step, rest, ok := strings.Cut(path, " (")
	if !ok {
		return path, ""
	}
	return step, strings.TrimSuffix(rest, ")")
}

func metricStageID(step Step) string {
	if step.Reg != nil {
		return step.Reg.ID
	}
	_, id := splitStepPath(step.Path)
	return id
}

// recordOptions are prepared once per step and op, so recording a duration
// does not allocate.
func (m *Metrics) recordOptions(step Step, op string) []metric.RecordOption {
	s, _ := splitStepPath(step.Path)
	set := m.attributes(step.Pipeline, s, metricStageID(step), attribute.String(LabelOp, op))
	return []metric.RecordOption{metric.WithAttributeSet(set)}
}

// encodes reports whether a step turns readings into frames.
func encodes(step Step) bool {
	if step.Reg == nil {
		return false
	}
	consumes := len(step.Reg.Consumes) == 0
	for _, k := range step.Reg.Consumes {
		consumes = consumes || k == stages.KindReadings
	}
	for _, k := range step.Reg.Produces {
		if k == stages.KindFrame {
			return consumes
		}
	}
	return false
}

// numCodecs is one more than the highest codec, for a fixed-size table.
const numCodecs = int(frame.CodecF32DiffZlib) + 1

// encodeCounters count the frames one step emitted, per codec.
type encodeCounters struct {
	attrs  [numCodecs]attribute.Set
	codecs [numCodecs]struct{ raw, encoded atomic.Uint64 }
}

func (c *encodeCounters) count(msgs []*message.Message) {
	if len(msgs) == 0 {
		return
	}
	EachFrame(msgs, func(h frame.Header, size int) {
		if int(h.Codec) < numCodecs {
			c.codecs[h.Codec].raw.Add(uint64(h.Count) * RawBytesPerReading)
			c.codecs[h.Codec].encoded.Add(uint64(size))
		}
	})
}

func (m *Metrics) stageMiddleware(step Step, next stages.Processor) stages.Processor {
	p := &timedProcessor{next: next, duration: m.duration, opts: m.recordOptions(step, "process")}
	if encodes(step) {
		c := &encodeCounters{}
		s, _ := splitStepPath(step.Path)
		for codec := range c.attrs {
			c.attrs[codec] = m.attributes(step.Pipeline, s, metricStageID(step), attribute.String(LabelCodec, frame.Codec(codec).String()))
		}
		m.mu.Lock()
		m.encoded = append(m.encoded, c)
		m.mu.Unlock()
		p.encoded = c
	}
	if f, ok := next.(stages.Flusher); ok {
		return &timedFlusher{timedProcessor: p, flusher: f, flushOpts: m.recordOptions(step, "flush")}
	}
	return p
}

func (m *Metrics) sinkMiddleware(step Step, next stages.Sink) stages.Sink {
	return &timedSink{next: next, duration: m.duration, opts: m.recordOptions(step, "write")}
}

type timedProcessor struct {
	next     stages.Processor
	duration metric.Float64Histogram
	opts     []metric.RecordOption
	encoded  *encodeCounters // nil unless the step encodes
}

func (p *timedProcessor) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	start := time.Now()
	out, err := p.next.Process(ctx, msg)
	p.duration.Record(ctx, time.Since(start).Seconds(), p.opts...)
	if err == nil && p.encoded != nil {
		p.encoded.count(out)
	}
	return out, err
}

type timedFlusher struct {
	*timedProcessor
	flusher   stages.Flusher
	flushOpts []metric.RecordOption
}

func (p *timedFlusher) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	start := time.Now()
	out, err := p.flusher.Flush(ctx, mode)
	p.duration.Record(ctx, time.Since(start).Seconds(), p.flushOpts...)
	if err == nil && p.encoded != nil {
		p.encoded.count(out)
	}
	return out, err
}

type timedSink struct {
	next     stages.Sink
	duration metric.Float64Histogram
	opts     []metric.RecordOption
}

func (s *timedSink) Write(ctx context.Context, msgs []*message.Message) error {
	start := time.Now()
	err := s.next.Write(ctx, msgs)
	s.duration.Record(ctx, time.Since(start).Seconds(), s.opts...)
	return err
}

var (
	_ stages.Processor = (*timedProcessor)(nil)
	_ stages.Flusher   = (*timedFlusher)(nil)
	_ stages.Sink      = (*timedSink)(nil)
)
