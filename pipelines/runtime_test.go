package pipelines

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/edgeflow/edgeflow/stages"
)

func testEnv(t *testing.T) stages.Env {
	level := slog.LevelError
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return stages.Env{Node: stages.Node{ID: "node-1"},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
}

// fastOpts keep retries and flushes short in tests.
func fastOpts(extra ...RunnerOption) []RunnerOption {
	return append([]RunnerOption{WithRetry(0, time.Millisecond, 5*time.Millisecond),
		WithFlushInterval(time.Hour), WithDrainTimeout(5 * time.Second)}, extra...)
}

func runPipeline(t *testing.T, ctx context.Context, p *Pipeline, opts ...RunnerOption) (Stats, error) {
	t.Helper()
	r, err := p.Build(ctx, testEnv(t), opts...)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return")
	}
	return r.Stats(), err
}

func TestRunnerDelivery(t *testing.T) {
	tests := []struct {
		name      string
		msgs      []string
		procs     []*rtProcConfig
		sinks     int
		sinkFails []int // FailTimes per sink
		opts      []RunnerOption
		retry     bool
		wantWrite []string // "write sinkname payload" for sink s0
		wantStats func(Stats) string
	}{
		{name: "pass through to two sinks", msgs: []string{"a", "b", "c"}, sinks: 2,
			wantWrite: []string{"a", "b", "c"},
			wantStats: func(s Stats) string {
				if s.Acked != 3 || s.Stages[0].Out != 3 || s.Stages[1].In != 3 || s.Stages[2].In != 3 {
					return "want 3 acked, source out 3, each sink in 3"
				}
				return ""
			}},
		{name: "filter", msgs: []string{"a", "x", "b"}, procs: []*rtProcConfig{{Mode: "filter", Arg: "x"}}, sinks: 1,
			wantWrite: []string{"a", "b"},
			wantStats: func(s Stats) string {
				if s.Acked != 3 || s.Stages[1].In != 3 || s.Stages[1].Out != 2 {
					return "want 3 acked, processor in 3 out 2"
				}
				return ""
			}},
		{name: "fan out then transform", msgs: []string{"a", "b"},
			procs: []*rtProcConfig{{Mode: "fanout", Arg: "..."}, {Mode: "upper"}}, sinks: 1,
			wantWrite: []string{"A#0", "A#1", "A#2", "B#0", "B#1", "B#2"},
			wantStats: func(s Stats) string {
				if s.Stages[1].Out != 6 || s.Stages[2].In != 6 || s.Stages[3].In != 6 {
					return "want fan-out of 6"
				}
				return ""
			}},
		{name: "transient processor error retried in place", msgs: []string{"a", "b"},
			procs: []*rtProcConfig{{Mode: "fail", Arg: "a", FailTimes: 2}}, sinks: 1,
			opts:      []RunnerOption{WithRetry(3, time.Millisecond, time.Millisecond)},
			wantWrite: []string{"a", "b"},
			wantStats: func(s Stats) string {
				if s.Nacked != 0 || s.Acked != 2 || s.Stages[1].Errors != 2 {
					return "want no nack, 2 acked, 2 processor errors"
				}
				return ""
			}},
		{name: "nack, redelivery, success", msgs: []string{"a", "b"}, retry: true,
			procs: []*rtProcConfig{{Mode: "fail", Arg: "a", FailTimes: 2}}, sinks: 1,
			wantWrite: []string{"a", "b"},
			wantStats: func(s Stats) string {
				if s.Nacked != 2 || s.Acked != 2 || s.Dropped != 0 || s.Stages[0].Errors != 2 {
					return "want 2 nacks seen by the source, 2 acked"
				}
				return ""
			}},
		{name: "dropped after max redeliveries", msgs: []string{"a", "bad", "c"}, retry: true,
			procs: []*rtProcConfig{{Mode: "fail", Arg: "bad"}}, sinks: 1,
			opts:      []RunnerOption{WithMaxRedeliveries(2)},
			wantWrite: []string{"a", "c"},
			wantStats: func(s Stats) string {
				if s.Nacked != 2 || s.Dropped != 1 || s.Acked != 2 || s.Stages[1].Errors != 3 {
					return "want 3 deliveries of bad: 2 nacked then dropped"
				}
				return ""
			}},
		{name: "never dropped with negative max redeliveries", msgs: []string{"a", "b"}, retry: true,
			procs: []*rtProcConfig{{Mode: "fail", Arg: "a", FailTimes: 10}}, sinks: 1,
			opts:      []RunnerOption{WithMaxRedeliveries(-1)},
			wantWrite: []string{"a", "b"},
			wantStats: func(s Stats) string {
				if s.Nacked != 10 || s.Dropped != 0 || s.Acked != 2 {
					return "want 10 nacks and no drop"
				}
				return ""
			}},
		{name: "panicking processor does not stop the pipeline", msgs: []string{"a", "boom", "c"}, retry: true,
			procs: []*rtProcConfig{{Mode: "panic", Arg: "boom"}}, sinks: 1,
			opts:      []RunnerOption{WithMaxRedeliveries(1)},
			wantWrite: []string{"a", "c"},
			wantStats: func(s Stats) string {
				if s.Dropped != 1 || s.Nacked != 1 || s.Acked != 2 {
					return "want boom nacked once then dropped"
				}
				return ""
			}},
		{name: "sink failure retried without reprocessing", msgs: []string{"a", "b"},
			procs: []*rtProcConfig{{Mode: "fanout", Arg: ".."}}, sinks: 1, sinkFails: []int{1},
			opts:      []RunnerOption{WithRetry(2, time.Millisecond, time.Millisecond)},
			wantWrite: []string{"a#0", "a#1", "b#0", "b#1"},
			wantStats: func(s Stats) string {
				if s.Stages[1].In != 2 || s.Acked != 2 {
					return "want the processor to see each message once"
				}
				return ""
			}},
		{name: "redelivery reuses the chain's output", msgs: []string{"a", "b"}, retry: true,
			procs: []*rtProcConfig{{Mode: "fanout", Arg: ".."}}, sinks: 1, sinkFails: []int{2},
			wantWrite: []string{"a#0", "a#1", "b#0", "b#1"},
			wantStats: func(s Stats) string {
				if s.Stages[1].In != 2 || s.Nacked != 2 || s.Acked != 2 || s.Stages[0].Out != 4 {
					return "want 4 deliveries but the processor to see each message once"
				}
				return ""
			}},
		{name: "second sink fails once: the first is not written twice", msgs: []string{"a", "b"},
			sinks: 2, sinkFails: []int{0, 1},
			opts:      []RunnerOption{WithRetry(2, time.Millisecond, time.Millisecond)},
			wantWrite: []string{"a", "b"},
			wantStats: func(s Stats) string {
				if s.Acked != 2 || s.Stages[1].In != 2 || s.Stages[2].In != 2 || s.Stages[2].Errors != 1 {
					return "want each sink to take each message once, one sink error"
				}
				return ""
			}},
		{name: "sink keeps failing: nacked, redelivered, dropped", msgs: []string{"a"}, retry: true,
			sinks: 1, sinkFails: []int{100},
			opts:      []RunnerOption{WithRetry(1, time.Millisecond, time.Millisecond), WithMaxRedeliveries(1)},
			wantWrite: nil,
			wantStats: func(s Stats) string {
				if s.Dropped != 1 || s.Nacked != 1 || s.Stages[1].Errors != 4 {
					return "want 2 deliveries of 2 attempts each, then a drop"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &eventLog{}
			src := &rtSrcConfig{Name: "s", Messages: tt.msgs, RetryOnNack: tt.retry, Log: log}
			var sinks []*rtSinkConfig
			for i := 0; i < tt.sinks; i++ {
				sinks = append(sinks, &rtSinkConfig{Name: "s" + string(rune('0'+i)), Log: log})
			}
			for i, n := range tt.sinkFails {
				sinks[i].FailTimes = n
			}
			// every sink must have written a message before the source sees its ack
			src.AfterAck = func(p string) {
				expected := false
				for _, w := range tt.wantWrite {
					expected = expected || strings.HasPrefix(strings.ToLower(w), p)
				}
				if !expected { // dropped
					return
				}
				for _, s := range sinks {
					found := false
					for _, w := range log.filter("write " + s.Name + " ") {
						found = found || strings.HasPrefix(strings.ToLower(strings.Fields(w)[2]), p)
					}
					if !found {
						t.Errorf("ack of %q before sink %s wrote it; events %v", p, s.Name, log.list())
					}
				}
			}
			for _, pc := range tt.procs {
				pc.Log = log
			}
			p := testPipeline("deliver", []*rtSrcConfig{src}, tt.procs, sinks)
			stats, err := runPipeline(t, context.Background(), p, fastOpts(tt.opts...)...)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, s := range sinks {
				var got []string
				for _, w := range log.filter("write " + s.Name + " ") {
					got = append(got, strings.Fields(w)[2])
				}
				if !slices.Equal(got, tt.wantWrite) {
					t.Errorf("sink %s wrote %v, want %v", s.Name, got, tt.wantWrite)
				}
			}
			if msg := tt.wantStats(stats); msg != "" {
				t.Errorf("%s; got %s", msg, stats)
			}
		})
	}
}

func TestRunnerContextAndMetadata(t *testing.T) {
	log := &eventLog{}
	p := testPipeline("ctxpipe", []*rtSrcConfig{{Name: "s", Messages: []string{"a"}, Log: log}},
		[]*rtProcConfig{{Mode: "upper", Name: "p0", Log: log}, {Mode: "pass", Name: "p1", Log: log}},
		[]*rtSinkConfig{{Name: "out", Log: log}})
	if _, err := runPipeline(t, context.Background(), p, fastOpts()...); err != nil {
		t.Fatal(err)
	}
	want := []string{"ctx p0 value-a", "ctx p1 value-a"}
	if got := log.filter("ctx "); !slices.Equal(got, want) {
		t.Errorf("processor contexts %v, want %v", got, want)
	}
	if got := log.filter("write "); !slices.Equal(got, []string{"write out A pipeline=ctxpipe ctx=value-a"}) {
		t.Errorf("sink got %v", got)
	}
}

func TestRunnerFlush(t *testing.T) {
	t.Run("drain flushes to the sinks", func(t *testing.T) {
		log := &eventLog{}
		ctx, cancel := context.WithCancel(context.Background())
		src := &rtSrcConfig{Name: "s", Messages: []string{"a", "b", "c"}, Hold: true, Log: log}
		acked := 0
		src.AfterAck = func(string) {
			acked++
			if acked == 3 {
				cancel()
			}
		}
		p := testPipeline("flush", []*rtSrcConfig{src},
			[]*rtProcConfig{{Mode: "buffer", Name: "buf", Log: log}, {Mode: "upper", Log: log}},
			[]*rtSinkConfig{{Name: "out", Log: log}, {Name: "copy", Log: log}})
		stats, err := runPipeline(t, ctx, p, fastOpts()...)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		for _, sink := range []string{"out", "copy"} {
			if got := log.filter("write " + sink); len(got) != 1 || !strings.HasPrefix(got[0], "write "+sink+" A+B+C pipeline=flush") {
				t.Errorf("sink %s got %v, want one A+B+C", sink, got)
			}
		}
		if stats.Stages[1].Out != 1 || stats.Stages[2].In != 1 {
			t.Errorf("flush stats: %s", stats)
		}
		// the flush happens before closing
		events := log.list()
		if i, j := slices.Index(events, "flush buf"), slices.Index(events, "close sink out"); i < 0 || j < i {
			t.Errorf("flush not before close: %v", events)
		}
	})
	t.Run("ticker flushes while running", func(t *testing.T) {
		log := &eventLog{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := &rtSrcConfig{Name: "s", Messages: []string{"a", "b"}, Hold: true, Log: log}
		p := testPipeline("tick", []*rtSrcConfig{src}, []*rtProcConfig{{Mode: "buffer", Name: "buf", Log: log}},
			[]*rtSinkConfig{{Name: "out", Log: log}})
		go func() {
			for ctx.Err() == nil && len(log.filter("write out")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		_, err := runPipeline(t, ctx, p, fastOpts(WithFlushInterval(20*time.Millisecond))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := log.filter("write out"); len(got) != 1 || !strings.HasPrefix(got[0], "write out a+b ") {
			t.Errorf("sink got %v", got)
		}
	})
	t.Run("flushed output waits for a failing sink", func(t *testing.T) {
		log := &eventLog{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := testPipeline("flushwait", []*rtSrcConfig{{Name: "s", Messages: []string{"a", "b"}, Hold: true, Log: log}},
			[]*rtProcConfig{{Mode: "buffer", Name: "buf", Log: log}},
			[]*rtSinkConfig{{Name: "out", FailTimes: 3, Log: log}})
		go func() {
			for ctx.Err() == nil && len(log.filter("write out")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		stats, err := runPipeline(t, ctx, p, fastOpts(WithFlushInterval(10*time.Millisecond))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := log.filter("write out"); len(got) != 1 || !strings.HasPrefix(got[0], "write out a+b ") {
			t.Errorf("sink got %v", got)
		}
		if stats.FlushDropped != 0 || stats.Stages[2].Errors != 3 {
			t.Errorf("stats %s", stats)
		}
	})
	t.Run("flushed output no sink takes is counted", func(t *testing.T) {
		log := &eventLog{}
		p := testPipeline("flushfail", []*rtSrcConfig{{Name: "s", Messages: []string{"a"}, Log: log}},
			[]*rtProcConfig{{Mode: "buffer", Name: "buf", Log: log}},
			[]*rtSinkConfig{{Name: "out", FailAll: true, Log: log}})
		stats, err := runPipeline(t, context.Background(), p, fastOpts()...)
		if err == nil || !strings.Contains(err.Error(), "sinks[0] (rt-sink)") {
			t.Errorf("Run error %v, want the failing sink named", err)
		}
		if stats.FlushDropped != 1 {
			t.Errorf("FlushDropped = %d, want 1", stats.FlushDropped)
		}
	})
}

func TestRunnerCloseOrder(t *testing.T) {
	log := &eventLog{}
	p := testPipeline("close",
		[]*rtSrcConfig{{Name: "s0", Messages: []string{"a"}, Log: log}, {Name: "s1", Log: log}},
		[]*rtProcConfig{{Name: "p0", Log: log}, {Name: "p1", Log: log}},
		[]*rtSinkConfig{{Name: "k0", Log: log}, {Name: "k1", Log: log}})
	r, err := p.Build(context.Background(), testEnv(t), fastOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	want := []string{"close source s1", "close source s0", "close processor p1", "close processor p0", "close sink k1", "close sink k0"}
	if got := log.filter("close "); !slices.Equal(got, want) {
		t.Errorf("close order %v, want %v", got, want)
	}
}

func TestBuildFailureClosesBuiltStages(t *testing.T) {
	log := &eventLog{}
	p := testPipeline("broken", []*rtSrcConfig{{Name: "s", Log: log}},
		[]*rtProcConfig{{Name: "p0", Log: log}, {Name: "p1", Log: log, BuildErr: errors.New("cannot open device")}},
		[]*rtSinkConfig{{Name: "k0", Log: log}})
	_, err := p.Build(context.Background(), testEnv(t))
	if err == nil {
		t.Fatal("Build succeeded")
	}
	if want := "broken.yaml:11: stages[1] (rt-proc): cannot open device"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if StepOf(err) != "stages[1] (rt-proc)" {
		t.Errorf("StepOf = %q", StepOf(err))
	}
	want := []string{"close processor p0", "close sink k0"}
	if got := log.filter("close "); !slices.Equal(got, want) {
		t.Errorf("closed %v, want %v", got, want)
	}
}

func TestRunnerSourceError(t *testing.T) {
	log := &eventLog{}
	p := testPipeline("srcerr", []*rtSrcConfig{{Name: "s", Messages: []string{"a"}, Log: log, Fail: errors.New("device gone")}},
		nil, []*rtSinkConfig{{Name: "k", Log: log}})
	_, err := runPipeline(t, context.Background(), p, fastOpts()...)
	if err == nil || !strings.Contains(err.Error(), "sources[0] (rt-src): device gone") {
		t.Errorf("Run error %v, want the source's error with its path", err)
	}
}

func TestStageMiddleware(t *testing.T) {
	log := &eventLog{}
	var calls atomic.Int64
	mw := func(step Step, next stages.Processor) stages.Processor {
		return processorFunc(func(ctx context.Context, m *message.Message) ([]*message.Message, error) {
			calls.Add(1)
			log.add("mw %s", step.Path)
			return next.Process(ctx, m)
		})
	}
	p := testPipeline("mw", []*rtSrcConfig{{Name: "s", Messages: []string{"a", "b"}, Log: log}},
		[]*rtProcConfig{{Mode: "buffer", Name: "buf", Log: log}},
		[]*rtSinkConfig{{Name: "k", Log: log}})
	stats, err := runPipeline(t, context.Background(), p, fastOpts(WithStageMiddleware(mw))...)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("middleware called %d times, want 2", calls.Load())
	}
	// the middleware hides Flush; the runtime still flushes the stage
	if got := log.filter("write k"); len(got) != 1 || !strings.HasPrefix(got[0], "write k a+b") {
		t.Errorf("sink got %v", got)
	}
	if stats.Stages[1].In != 2 {
		t.Errorf("stats %s", stats)
	}
}

type processorFunc func(ctx context.Context, m *message.Message) ([]*message.Message, error)

func (f processorFunc) Process(ctx context.Context, m *message.Message) ([]*message.Message, error) {
	return f(ctx, m)
}

func TestRunnerManySourcesAndNoLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for round := 0; round < 3; round++ {
		log := &eventLog{}
		ctx, cancel := context.WithCancel(context.Background())
		var srcs []*rtSrcConfig
		for i := 0; i < 4; i++ {
			srcs = append(srcs, &rtSrcConfig{Name: "s", Messages: []string{"a", "b", "c"}, Hold: i%2 == 0, Log: log})
		}
		go func() {
			for ctx.Err() == nil && len(log.filter("acked")) < 12 {
				time.Sleep(2 * time.Millisecond)
			}
			cancel()
		}()
		p := testPipeline("many", srcs, []*rtProcConfig{{Mode: "buffer", Log: log}}, []*rtSinkConfig{{Name: "k", Log: log}})
		stats, err := runPipeline(t, ctx, p, fastOpts(WithFlushInterval(time.Millisecond))...)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if stats.Acked != 12 {
			t.Errorf("acked %d, want 12", stats.Acked)
		}
		n := 0
		for _, w := range log.filter("write k ") {
			n += strings.Count(strings.Fields(w)[2], "+") + 1
		}
		if n != 12 {
			t.Errorf("sink got %d readings, want 12: %v", n, log.filter("write"))
		}
	}
}

func TestRunnerDrainTimeout(t *testing.T) {
	// a sink that blocks until its context ends: the drain must cut it off
	log := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	p := testPipeline("stuck", []*rtSrcConfig{{Name: "s", Messages: []string{"a"}, Hold: true, Log: log}},
		[]*rtProcConfig{{Mode: "panic", Arg: "never", Log: log}}, []*rtSinkConfig{{Name: "k", Log: log}})
	blocking := func(step Step, next stages.Processor) stages.Processor {
		return processorFunc(func(ctx context.Context, m *message.Message) ([]*message.Message, error) {
			cancel()
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}
	start := time.Now()
	_, err := runPipeline(t, ctx, p, fastOpts(WithDrainTimeout(100*time.Millisecond), WithStageMiddleware(blocking))...)
	if err == nil || !strings.Contains(err.Error(), "drain timed out") {
		t.Errorf("Run error %v, want drain timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("drain took %s", d)
	}
}

func TestRunnerStuckSourceIsCutOff(t *testing.T) {
	log := &eventLog{}
	stuck := make(chan struct{})
	defer close(stuck)
	ctx, cancel := context.WithCancel(context.Background())
	src := &rtSrcConfig{Name: "s", Messages: []string{"a"}, Stuck: stuck, Log: log}
	src.AfterAck = func(string) { cancel() }
	p := testPipeline("stucksrc", []*rtSrcConfig{src}, nil, []*rtSinkConfig{{Name: "k", Log: log}})
	start := time.Now()
	_, err := runPipeline(t, ctx, p, fastOpts(WithDrainTimeout(100*time.Millisecond))...)
	if err == nil || !strings.Contains(err.Error(), "sources still reading: [sources[0] (rt-src)]") {
		t.Errorf("Run error %v, want the stuck source named", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %s", d)
	}
	if got := log.filter("write k"); len(got) != 1 {
		t.Errorf("sink got %v", got)
	}
}

// BenchmarkRunner measures messages per second through a source, two
// processors and two sinks.
func BenchmarkRunner(b *testing.B) {
	msgs := make([]string, b.N)
	for i := range msgs {
		msgs[i] = "m"
	}
	p := testPipeline("bench", []*rtSrcConfig{{Name: "s", Messages: msgs}},
		[]*rtProcConfig{{Mode: "pass"}, {Mode: "upper"}},
		[]*rtSinkConfig{{Name: "a"}, {Name: "b"}})
	r, err := p.Build(context.Background(), stages.Env{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if s := r.Stats(); s.Acked != uint64(b.N) {
		b.Fatalf("acked %d of %d", s.Acked, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
