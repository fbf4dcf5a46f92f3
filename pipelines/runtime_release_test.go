package pipelines

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// Test stages of the acknowledgement tests: a source pipelining through a
// stages.Window, a batching processor that implements stages.Watermarker, and a
// sink that records what it took and fails on demand.

// ack-src emits Count messages "m0", "m1", … through a Window. On each
// acknowledgement it checks that the sink already holds the message: the
// crash-safety property (acknowledged ⇒ written).
type ackSrcConfig struct {
	Count int `yaml:"count"`
	// Hold: after emitting, wait for the context to end before collecting.
	Hold bool `yaml:"hold"`
	// Plain: emit one message at a time through the EmitFunc.
	Plain bool `yaml:"plain"`

	Sink   *ackSinkConfig `yaml:"-"`
	mu     sync.Mutex
	acked  []string
	unsafe []string // acknowledged before the sink held them
}

func (c *ackSrcConfig) Validate() error { return nil }

type ackSource struct{ cfg *ackSrcConfig }

func (s *ackSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	w := stages.NewWindow(ctx, emit, nil)
	for i := range s.cfg.Count {
		p := fmt.Sprintf("m%d", i)
		msg := message.NewMessage(p, message.Payload(p))
		if s.cfg.Plain {
			if err := emit(ctx, msg); err != nil {
				return err
			}
			s.cfg.mu.Lock()
			s.cfg.acked = append(s.cfg.acked, p)
			if !s.cfg.Sink.holds(p) {
				s.cfg.unsafe = append(s.cfg.unsafe, p)
			}
			s.cfg.mu.Unlock()
			continue
		}
		err := w.Emit(ctx, msg, func() {
			s.cfg.mu.Lock()
			defer s.cfg.mu.Unlock()
			s.cfg.acked = append(s.cfg.acked, p)
			if !s.cfg.Sink.holds(p) {
				s.cfg.unsafe = append(s.cfg.unsafe, p)
			}
		})
		if err != nil {
			return err
		}
	}
	if s.cfg.Hold {
		<-ctx.Done()
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return w.Wait(wctx)
	}
	return w.Wait(ctx)
}

// ack-batch buffers payloads and emits them joined by "," once Size are
// buffered, or on Flush.
type ackBatchConfig struct {
	Size int `yaml:"size"`
}

func (c *ackBatchConfig) Validate() error { return nil }

type ackBatch struct {
	cfg   *ackBatchConfig
	mu    sync.Mutex
	buf   []string
	first uint64 // input number of buf[0]
}

func (b *ackBatch) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		b.first, _ = stages.InputSeq(ctx)
	}
	b.buf = append(b.buf, string(msg.Payload))
	if len(b.buf) < b.cfg.Size {
		return nil, nil
	}
	return b.emitLocked(), nil
}

func (b *ackBatch) Flush(context.Context, stages.FlushMode) ([]*message.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.emitLocked(), nil
}

func (b *ackBatch) emitLocked() []*message.Message {
	if len(b.buf) == 0 {
		return nil
	}
	m := message.NewMessage(fmt.Sprintf("batch-%d", b.first), message.Payload(strings.Join(b.buf, ",")))
	b.buf = nil
	return []*message.Message{m}
}

func (b *ackBatch) Watermark() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return stages.NoWatermark
	}
	return b.first
}

// ack-sink records every payload it took; Fail says whether write number n
// (from 1) fails.
type ackSinkConfig struct {
	Fail func(n int) bool `yaml:"-"`

	mu      sync.Mutex
	writes  int
	written []string
}

func (c *ackSinkConfig) Validate() error { return nil }

func (c *ackSinkConfig) holds(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.written, p)
}

type ackSink struct{ cfg *ackSinkConfig }

func (s *ackSink) Write(_ context.Context, msgs []*message.Message) error {
	s.cfg.mu.Lock()
	defer s.cfg.mu.Unlock()
	s.cfg.writes++
	if s.cfg.Fail != nil && s.cfg.Fail(s.cfg.writes) {
		return errors.New("sink unavailable")
	}
	for _, m := range msgs {
		s.cfg.written = append(s.cfg.written, strings.Split(string(m.Payload), ",")...)
	}
	return nil
}

func init() {
	stages.RegisterSource(stages.Info{ID: "ack-src", Summary: "acknowledgement test source"},
		func() *ackSrcConfig { return &ackSrcConfig{} },
		func(_ context.Context, cfg *ackSrcConfig, _ stages.Env) (stages.Source, error) {
			return &ackSource{cfg: cfg}, nil
		})
	stages.RegisterProcessor(stages.Info{ID: "ack-batch", Summary: "acknowledgement test batcher"},
		func() *ackBatchConfig { return &ackBatchConfig{Size: 10} },
		func(_ context.Context, cfg *ackBatchConfig, _ stages.Env) (stages.Processor, error) {
			return &ackBatch{cfg: cfg}, nil
		})
	stages.RegisterSink(stages.Info{ID: "ack-sink", Summary: "acknowledgement test sink"},
		func() *ackSinkConfig { return &ackSinkConfig{} },
		func(_ context.Context, cfg *ackSinkConfig, _ stages.Env) (stages.Sink, error) {
			return &ackSink{cfg: cfg}, nil
		})
}

func ackPipeline(src *ackSrcConfig, batch *ackBatchConfig, sink *ackSinkConfig) *Pipeline {
	reg := func(kind stages.Kind, id string) *stages.Registration {
		r, ok := stages.Lookup(kind, id)
		if !ok {
			panic("missing test stage " + id)
		}
		return r
	}
	src.Sink = sink
	return &Pipeline{File: "ack.yaml", Name: "ack",
		Sources: []Step{{Path: "sources[0] (ack-src)", Line: 2, Reg: reg(stages.KindSource, "ack-src"), Config: src}},
		Stages:  []Step{{Path: "stages[0] (ack-batch)", Line: 4, Reg: reg(stages.KindProcessor, "ack-batch"), Config: batch}},
		Sinks:   []Step{{Path: "sinks[0] (ack-sink)", Line: 6, Reg: reg(stages.KindSink, "ack-sink"), Config: sink}},
	}
}

// TestAcknowledgedOnlyOnceWritten runs a source pipelining many messages into a
// buffering stage with sinks that work, fail now and then, or are down for a
// while, and a drain with data still buffered. In every case each message is
// acknowledged, and only once the sink held it.
func TestAcknowledgedOnlyOnceWritten(t *testing.T) {
	for _, tc := range []struct {
		name    string
		count   int
		batch   int // default 10
		hold    bool
		fail    func(n int) bool
		opts    []RunnerOption
		inOrder bool // the sink took the messages in emit order, each once
	}{
		{name: "healthy sink", count: 95, inOrder: true},
		{name: "flaky sink, retried in place", count: 95, inOrder: true,
			fail: func(n int) bool { return n%3 == 0 },
			opts: []RunnerOption{WithRetry(3, time.Millisecond, time.Millisecond)}},
		{name: "sink down for a while: inputs in the refused output nacked and handed over again", count: 95,
			fail: func(n int) bool { return n >= 3 && n < 6 },
			opts: []RunnerOption{WithRetry(0, time.Millisecond, time.Millisecond), WithMaxRedeliveries(10)}},
		{name: "flushed output dropped: its inputs nacked and handed over again", count: 25, batch: 1000,
			fail: func(n int) bool { return n < 3 },
			opts: []RunnerOption{WithRetry(0, time.Millisecond, time.Millisecond), WithMaxRedeliveries(0)}},
		{name: "drain with data buffered: the final flush acknowledges it", count: 25, hold: true, inOrder: true},
		{name: "small window", count: 95, inOrder: true, opts: []RunnerOption{WithInFlight(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, sink := &ackSrcConfig{Count: tc.count, Hold: tc.hold}, &ackSinkConfig{Fail: tc.fail}
			if tc.batch == 0 {
				tc.batch = 10
			}
			p := ackPipeline(src, &ackBatchConfig{Size: tc.batch}, sink)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.hold {
				go func() {
					for {
						sink.mu.Lock()
						n := len(sink.written)
						sink.mu.Unlock()
						if n >= tc.count/10*10 {
							break
						}
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			}
			st, err := runPipeline(t, ctx, p, fastOpts(tc.opts...)...)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v", err)
			}
			src.mu.Lock()
			defer src.mu.Unlock()
			if len(src.unsafe) > 0 {
				t.Errorf("acknowledged before written: %v", src.unsafe)
			}
			if len(src.acked) != tc.count {
				t.Errorf("acknowledged %d of %d messages (%s)", len(src.acked), tc.count, st)
			}
			for i, p := range src.acked {
				if want := fmt.Sprintf("m%d", i); p != want {
					t.Fatalf("acknowledgement %d is %s, want %s", i, p, want)
				}
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if tc.inOrder {
				for i, p := range sink.written {
					if want := fmt.Sprintf("m%d", i); p != want {
						t.Fatalf("sink took %s at %d, want %s (reordered or duplicated): %v", p, i, want, sink.written)
					}
				}
			}
		})
	}
}

// TestEmitWaitsForTheFlush: a source emitting one message at a time behind a
// buffering stage gets each emit back only once a flush wrote its data.
func TestEmitWaitsForTheFlush(t *testing.T) {
	src, sink := &ackSrcConfig{Count: 4, Plain: true}, &ackSinkConfig{}
	p := ackPipeline(src, &ackBatchConfig{Size: 1000}, sink)
	st, err := runPipeline(t, context.Background(), p, fastOpts(WithFlushInterval(20*time.Millisecond))...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.unsafe) > 0 || len(src.acked) != 4 {
		t.Fatalf("acknowledged %v, before written %v (%s)", src.acked, src.unsafe, st)
	}
}
