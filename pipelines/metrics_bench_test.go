package pipelines

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/edgeflow/edgeflow/stages"
)

// BenchmarkMetricsMiddleware measures what the metrics middleware adds to one
// processor call and one sink write; it must not allocate.
func BenchmarkMetricsMiddleware(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	m, err := NewMetrics(mp, "node-1")
	if err != nil {
		b.Fatal(err)
	}
	encodeReg := &stages.Registration{ID: "encode", Kind: stages.KindProcessor,
		Consumes: []string{stages.KindReadings}, Produces: []string{stages.KindFrame}}
	msg := message.NewMessage("1", []byte("reading"))
	msg.Metadata.Set(stages.MetaKind, stages.KindReadings)
	out := []*message.Message{msg}
	ctx := context.Background()

	b.Run("processor", func(b *testing.B) {
		p := m.stageMiddleware(Step{Path: "stages[0] (pass)", Pipeline: "bench"},
			processorFunc(func(ctx context.Context, msg *message.Message) ([]*message.Message, error) { return out, nil }))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Process(ctx, msg)
		}
	})
	b.Run("encoder buffering", func(b *testing.B) {
		p := m.stageMiddleware(Step{Path: "stages[0] (encode)", Pipeline: "bench", Reg: encodeReg},
			processorFunc(func(ctx context.Context, msg *message.Message) ([]*message.Message, error) { return nil, nil }))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Process(ctx, msg)
		}
	})
	b.Run("sink", func(b *testing.B) {
		s := m.sinkMiddleware(Step{Path: "sinks[0] (nop)", Pipeline: "bench"},
			sinkFunc(func(ctx context.Context, msgs []*message.Message) error { return nil }))
		b.ReportAllocs()
		for b.Loop() {
			_ = s.Write(ctx, out)
		}
	})
}

func TestMetricsMiddlewareDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	m, err := NewMetrics(mp, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("1", []byte("reading"))
	out := []*message.Message{msg}
	ctx := context.Background()
	p := m.stageMiddleware(Step{Path: "stages[0] (pass)", Pipeline: "bench"},
		processorFunc(func(ctx context.Context, msg *message.Message) ([]*message.Message, error) { return out, nil }))
	s := m.sinkMiddleware(Step{Path: "sinks[0] (nop)", Pipeline: "bench"},
		sinkFunc(func(ctx context.Context, msgs []*message.Message) error { return nil }))
	_, _ = p.Process(ctx, msg) // the first measurement of an attribute set allocates its aggregation
	_ = s.Write(ctx, out)
	if n := testing.AllocsPerRun(1000, func() {
		_, _ = p.Process(ctx, msg)
		_ = s.Write(ctx, out)
	}); n != 0 {
		t.Errorf("%v allocations per processor call and sink write, want 0", n)
	}
}
