package pipelines

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/encode"
	_ "github.com/edgeflow/edgeflow/stages/generate"
)

// discardSink takes every write and counts the messages.
type discardSink struct{ n *atomic.Int64 }

type discardSinkConfig struct{ n atomic.Int64 }

func (c *discardSinkConfig) Validate() error { return nil }

func (s discardSink) Write(_ context.Context, msgs []*message.Message) error {
	s.n.Add(int64(len(msgs)))
	return nil
}

func init() {
	stages.RegisterSink(stages.Info{ID: "bench-discard", Summary: "benchmark sink that drops everything"},
		func() *discardSinkConfig { return &discardSinkConfig{} },
		func(_ context.Context, cfg *discardSinkConfig, _ stages.Env) (stages.Sink, error) {
			return discardSink{n: &cfg.n}, nil
		})
}

// discardExporter is a span exporter that drops every span.
type discardExporter struct{ spans atomic.Int64 }

func (e *discardExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.spans.Add(int64(len(spans)))
	return nil
}
func (e *discardExporter) Shutdown(context.Context) error { return nil }

// benchSensors is the number of sensors of the generator: each message
// carries one reading of each.
const benchSensors = 3

// benchTracingPipeline is generate (as fast as the pipeline takes it, ticks
// readings per sensor) → encode (zstd frames of 500 readings) → a sink that
// discards.
func benchTracingPipeline(b *testing.B, ticks int) *Pipeline {
	yaml := fmt.Sprintf(`name: bench
sources:
  - type: generate
    realtime: false
    count: %d
    start: "2026-01-01T00:00:00Z"
    anomaly_rate: 0
    sensors:
      - {name: temperature, kind: temperature}
      - {name: humidity, kind: humidity}
      - {name: vibration, kind: vibration}
stages:
  - type: encode
    codec: zstd
    block_size: 500
sinks:
  - type: bench-discard
`, ticks)
	p, err := Load("bench.yaml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// processCPUTime is the user and system CPU time of the process so far.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipelineTracing measures the throughput of generate → encode → a
// discarding sink with tracing off, and with a real SDK tracer provider
// (parent-based ratio sampler, batch span processor, an exporter that drops
// the spans) sampling 1% and 100% of the traces. Each b.N is one message of 3
// readings. readings/s is the throughput; vs_off the ratio to the throughput of
// "off" measured just before in the same run (run the sub-benchmarks together).
// readings/cpu-s and cpu_vs_off are the same per CPU second the whole process
// used (every goroutine, the span processor and GC included): on a busy machine
// they move less than the wall-clock numbers.
func BenchmarkPipelineTracing(b *testing.B) {
	var offRate, offCPURate float64
	for _, bc := range []struct {
		name  string
		ratio float64 // < 0: tracing off
	}{{"off", -1}, {"sample=1%", 0.01}, {"sample=100%", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			var opts []RunnerOption
			var exp *discardExporter
			var tracing *telemetry.Tracing
			if bc.ratio >= 0 {
				exp = &discardExporter{}
				var err error
				tracing, err = telemetry.NewTracing(ctx, telemetry.TracingSettings{Exporter: telemetry.ExporterNone, Ratio: bc.ratio},
					nil, telemetry.WithSpanExporter(exp))
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, WithTracing(tracing.TracerProvider()))
			}
			p := benchTracingPipeline(b, b.N)
			r, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "bench-node"}}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPUTime()
			if err := r.Run(ctx); err != nil {
				b.Fatal(err)
			}
			cpu := processCPUTime() - cpu0
			b.StopTimer()
			if s := r.Stats(); s.Acked != uint64(b.N) {
				b.Fatalf("acked %d of %d messages", s.Acked, b.N)
			}
			rate := float64(benchSensors*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "readings/s")
			cpuRate := float64(benchSensors*b.N) / cpu.Seconds()
			b.ReportMetric(cpuRate, "readings/cpu-s")
			if bc.ratio < 0 {
				offRate, offCPURate = rate, cpuRate
			} else if offRate > 0 {
				b.ReportMetric(rate/offRate, "vs_off")
				b.ReportMetric(cpuRate/offCPURate, "cpu_vs_off")
			}
			if tracing != nil {
				if err := tracing.Shutdown(ctx); err != nil {
					b.Fatal(err)
				}
				if bc.ratio == 1 && exp.spans.Load() == 0 {
					b.Fatal("no span exported at sampling 100%")
				}
			}
		})
	}
}

// BenchmarkTracingPerMessage measures what tracing adds to one message of a
// pipeline source → buffering processor: the ingest span, the process span
// (started only when sampled) and the bookkeeping for the flush span. Compare
// its ns/op with the CPU time per message of BenchmarkPipelineTracing/off
// (1e9 / (readings/cpu-s / 3)).
func BenchmarkTracingPerMessage(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ratio float64
	}{{"sample=1%", 0.01}, {"sample=100%", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			tracing, err := telemetry.NewTracing(ctx, telemetry.TracingSettings{Exporter: telemetry.ExporterNone, Ratio: bc.ratio},
				nil, telemetry.WithSpanExporter(&discardExporter{}))
			if err != nil {
				b.Fatal(err)
			}
			defer tracing.Shutdown(ctx)
			env := stages.Env{Node: stages.Node{ID: "bench-node"}, Pipeline: "bench"}
			pt := newPipelineTracer(tracing.TracerProvider(), env)
			src := pt.source(Step{Path: "sources[0] (generate)"})
			proc := pt.tracingMiddleware(Step{Path: "stages[0] (encode)"}, bufferingNop{}).(*tracingFlusher)
			msg := message.NewMessage("m", []byte(`{"t":1,"v":2}`))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPUTime()
			defer func() { b.ReportMetric(float64(processCPUTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
			for i := 0; i < b.N; i++ {
				mctx, span := src.start(ctx, msg)
				if _, err := proc.Process(mctx, msg); err != nil {
					b.Fatal(err)
				}
				endSpan(span, nil)
				if i%500 == 499 { // a frame of 500 readings goes out
					if _, err := proc.Flush(ctx, stages.FlushAll); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// bufferingNop is a buffering processor that keeps nothing and flushes one
// message.
type bufferingNop struct{}

func (bufferingNop) Process(context.Context, *message.Message) ([]*message.Message, error) {
	return nil, nil
}

func (bufferingNop) Flush(context.Context, stages.FlushMode) ([]*message.Message, error) {
	return []*message.Message{message.NewMessage("frame", nil)}, nil
}
