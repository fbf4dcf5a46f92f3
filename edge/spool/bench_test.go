package spool

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/metric/noop"
)

// readingsPerFrame and frameBytes describe the frames of the measurement: the
// encode stage's frame of 500 readings of a sensor is about 1 KB.
const (
	readingsPerFrame = 500
	frameBytes       = 1024
)

// timingSink takes everything and records when each message arrived.
type timingSink struct {
	mu      sync.Mutex
	arrived map[string]time.Time
}

func (s *timingSink) Write(_ context.Context, msgs []*message.Message) error {
	now := time.Now()
	s.mu.Lock()
	for _, m := range msgs {
		s.arrived[m.UUID] = now
	}
	s.mu.Unlock()
	return nil
}

func frameMessage(i int, rng *rand.Rand) *message.Message {
	p := make([]byte, frameBytes)
	for j := range p {
		p[j] = byte(rng.Uint32())
	}
	m := message.NewMessage(strconv.Itoa(i), p)
	m.Metadata.Set("edgeflow-kind", "frame")
	m.Metadata.Set("edgeflow-node", "edge-1")
	m.Metadata.Set("edgeflow-stream", "machine_temperature")
	m.Metadata.Set("edgeflow-seq", strconv.Itoa(i))
	m.Metadata.Set("edgeflow-pipeline", "sensors")
	m.Metadata.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return m
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// BenchmarkAppendFrame measures a sink Write of one frame of 500 readings
// into the spool (durable when it returns) while the forwarder empties the
// spool into a sink that takes everything: readings/s, the Write latency
// (what the spool adds before the source's acknowledgement) and the delay
// from Append to the sink.
//
//	go test -run '^$' -bench AppendFrame -benchtime 5s ./edge/spool
func BenchmarkAppendFrame(b *testing.B) {
	sink := &timingSink{arrived: map[string]time.Time{}}
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), *DefaultConfig(), sink, Options{MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([]*message.Message, 64)
	for i := range frames {
		frames[i] = frameMessage(i, rng)
	}
	ctx := context.Background()
	var writes []time.Duration
	started := map[string]time.Time{}
	i := 0
	for b.Loop() {
		m := frames[i%len(frames)].Copy()
		m.UUID = strconv.Itoa(i)
		i++
		t0 := time.Now()
		if err := s.Append(ctx, []*message.Message{m}); err != nil {
			b.Fatal(err)
		}
		writes = append(writes, time.Since(t0))
		started[m.UUID] = t0
	}
	elapsed := b.Elapsed()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var delays []time.Duration
	sink.mu.Lock()
	for id, t0 := range started {
		if at, ok := sink.arrived[id]; ok {
			delays = append(delays, at.Sub(t0))
		}
	}
	sink.mu.Unlock()
	b.ReportMetric(float64(len(writes)*readingsPerFrame)/elapsed.Seconds(), "readings/s")
	b.ReportMetric(float64(percentile(writes, 0.5).Microseconds()), "write-p50-µs")
	b.ReportMetric(float64(percentile(writes, 0.99).Microseconds()), "write-p99-µs")
	b.ReportMetric(float64(percentile(delays, 0.5).Microseconds()), "to-sink-p50-µs")
	b.ReportMetric(float64(percentile(delays, 0.99).Microseconds()), "to-sink-p99-µs")
}

// BenchmarkDrain measures how fast a backlog left by an outage empties into a
// sink that takes everything once the link is back (default settings: batches
// of 100), and how long the forwarder took to notice the link was back.
//
//	go test -run '^$' -bench Drain -benchtime 1x ./edge/spool
func BenchmarkDrain(b *testing.B) {
	const backlog = 10_000 // frames: 5,000,000 readings, ~8 minutes at 10,000 readings/s
	for b.Loop() {
		b.StopTimer()
		sink := &recordingSink{fail: true}
		s, err := Open(filepath.Join(b.TempDir(), "drain.db"), *DefaultConfig(), sink, Options{MeterProvider: noop.NewMeterProvider()})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < backlog; i += 100 {
			batch := make([]*message.Message, 100)
			for j := range batch {
				batch[j] = frameMessage(i+j, rng)
			}
			if err := s.Append(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(3 * time.Second) // the backoff reaches its cap
		b.StartTimer()
		back := time.Now()
		sink.setFail(false)
		var first time.Duration
		for s.Stats().Depth > 0 {
			if first == 0 && s.Stats().Forwarded > 0 {
				first = time.Since(back)
			}
			time.Sleep(time.Millisecond)
		}
		took := time.Since(back)
		b.StopTimer()
		s.Close()
		b.ReportMetric(first.Seconds()*1000, "first-forward-ms")
		b.ReportMetric(took.Seconds(), "drain-s")
		b.ReportMetric(float64(backlog*readingsPerFrame)/took.Seconds(), "readings/s")
		b.StartTimer()
	}
}
