package pipelines

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode"
)

// bufferedAckEncoder is the encoder without its stages.Watermarker: inputs are
// acknowledged as soon as they are buffered, as before watermarks existed.
type bufferedAckEncoder struct {
	stages.Processor
	stages.Flusher
}

func init() {
	stages.RegisterProcessor(stages.Info{ID: "bench-encode-buffered-ack", Summary: "encode, acknowledging inputs when buffered"},
		encode.DefaultConfig,
		func(_ context.Context, cfg *encode.Config, env stages.Env) (stages.Processor, error) {
			e, err := encode.NewEncoder(cfg, env)
			if err != nil {
				return nil, err
			}
			return bufferedAckEncoder{e, e}, nil
		})
}

// BenchmarkPipelineAck measures generate → encode (zstd frames of 500
// readings) → a discarding sink when inputs are acknowledged once buffered
// (the encoder's watermark hidden) and once their frames were written (the
// default). Each b.N is one message of 3 readings; vs_buffered is the ratio of
// the throughput to the buffered case measured just before in the same run.
func BenchmarkPipelineAck(b *testing.B) {
	var bufferedRate float64
	for _, bc := range []struct{ name, stage string }{
		{"ack=buffered", "bench-encode-buffered-ack"},
		{"ack=written", "encode"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			yaml := strings.Replace(fmt.Sprintf(`name: bench
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
  - type: STAGE
    codec: zstd
    block_size: 500
sinks:
  - type: bench-discard
`, b.N), "STAGE", bc.stage, 1)
			p, err := Load("bench.yaml", []byte(yaml))
			if err != nil {
				b.Fatal(err)
			}
			r, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "bench-node"}})
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
			b.ReportMetric(float64(benchSensors*b.N)/cpu.Seconds(), "readings/cpu-s")
			switch {
			case bc.stage != "encode":
				bufferedRate = rate
			case bufferedRate > 0:
				b.ReportMetric(rate/bufferedRate, "vs_buffered")
			}
		})
	}
}
