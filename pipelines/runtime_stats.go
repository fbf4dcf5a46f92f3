package pipelines

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// StageStats counts what one step of a running pipeline did.
//
// For a source, Out is the number of messages it handed to the pipeline and
// Errors the number of those that were nacked back to it. For a processor, In and
// Out count messages into Process and out of Process and Flush, Errors the failed
// calls. For a sink, In counts messages written successfully and Errors the
// failed writes. Busy is the time spent inside the stage.
type StageStats struct {
	Path   string
	Kind   stages.Kind
	In     uint64
	Out    uint64
	Errors uint64
	Busy   time.Duration
}

// Stats is a snapshot of a Runner's counters.
type Stats struct {
	Pipeline string
	// Stages lists sources, processors and sinks in file order.
	Stages []StageStats
	// Acked source messages were written by every sink (or filtered out).
	Acked uint64
	// Nacked counts failed deliveries reported back to sources.
	Nacked uint64
	// Dropped source messages failed more than the allowed redeliveries.
	Dropped uint64
	// FlushDropped counts flushed messages dropped: a later stage rejected them
	// or the sinks did not take them within the allowed retries.
	FlushDropped uint64
	// DeadLetters counts, per step, inputs that could not be parsed and went to
	// the dead-letter sink (or, without one, were logged and dropped).
	DeadLetters []DeadLetterStats
}

// DeadLettered is the number of inputs dead-lettered by every step together.
func (s Stats) DeadLettered() uint64 {
	var n uint64
	for _, d := range s.DeadLetters {
		n += d.Count
	}
	return n
}

// String renders the snapshot on one line, for logs and exit summaries: the
// message counts, the dead letters (by step when there are any), then each
// step's counters.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %s: acked %d, nacked %d, dropped %d", s.Pipeline, s.Acked, s.Nacked, s.Dropped)
	if s.FlushDropped > 0 {
		fmt.Fprintf(&b, ", flush dropped %d", s.FlushDropped)
	}
	fmt.Fprintf(&b, ", dead letters %d", s.DeadLettered())
	if s.DeadLettered() > 0 {
		b.WriteString(" (")
		sep := ""
		for _, d := range s.DeadLetters {
			if d.Count > 0 {
				fmt.Fprintf(&b, "%s%s %d", sep, d.Path, d.Count)
				sep = ", "
			}
		}
		b.WriteString(")")
	}
	for _, st := range s.Stages {
		b.WriteString("; ")
		b.WriteString(st.Path)
		switch st.Kind {
		case stages.KindSource:
			fmt.Fprintf(&b, " out %d", st.Out)
		case stages.KindSink:
			fmt.Fprintf(&b, " in %d", st.In)
		default:
			fmt.Fprintf(&b, " in %d out %d", st.In, st.Out)
		}
		fmt.Fprintf(&b, " errors %d", st.Errors)
	}
	return b.String()
}

// stageCounters are the live counters behind one StageStats.
type stageCounters struct {
	path   string
	kind   stages.Kind
	in     atomic.Uint64
	out    atomic.Uint64
	errors atomic.Uint64
	busy   atomic.Int64
}

func (c *stageCounters) snapshot() StageStats {
	return StageStats{Path: c.path, Kind: c.kind, In: c.in.Load(), Out: c.out.Load(),
		Errors: c.errors.Load(), Busy: time.Duration(c.busy.Load())}
}

// runnerCounters hold every counter of a Runner.
type runnerCounters struct {
	pipeline     string
	steps        []*stageCounters // sources, processors, sinks
	byPath       map[string]*stageCounters
	acked        atomic.Uint64
	nacked       atomic.Uint64
	dropped      atomic.Uint64
	flushDropped atomic.Uint64
}

func newRunnerCounters(p *Pipeline) *runnerCounters {
	rc := &runnerCounters{pipeline: p.Name, byPath: map[string]*stageCounters{}}
	add := func(kind stages.Kind, steps []Step) {
		for _, s := range steps {
			c := &stageCounters{path: s.Path, kind: kind}
			rc.steps = append(rc.steps, c)
			rc.byPath[s.Path] = c
		}
	}
	add(stages.KindSource, p.Sources)
	add(stages.KindProcessor, p.Stages)
	add(stages.KindSink, p.Sinks)
	return rc
}

func (rc *runnerCounters) of(step Step) *stageCounters {
	if c, ok := rc.byPath[step.Path]; ok {
		return c
	}
	return &stageCounters{path: step.Path}
}

func (rc *runnerCounters) snapshot() Stats {
	s := Stats{Pipeline: rc.pipeline, Acked: rc.acked.Load(), Nacked: rc.nacked.Load(),
		Dropped: rc.dropped.Load(), FlushDropped: rc.flushDropped.Load()}
	for _, c := range rc.steps {
		s.Stages = append(s.Stages, c.snapshot())
	}
	return s
}

// statsMiddleware is the built-in StageMiddleware counting messages in and out,
// errors and busy time per processor.
func (rc *runnerCounters) statsMiddleware(step Step, next stages.Processor) stages.Processor {
	p := &countingProcessor{c: rc.of(step), next: next}
	if f, ok := next.(stages.Flusher); ok {
		return &countingFlusher{countingProcessor: p, flusher: f}
	}
	return p
}

type countingProcessor struct {
	c    *stageCounters
	next stages.Processor
}

func (p *countingProcessor) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	start := time.Now()
	p.c.in.Add(1)
	out, err := p.next.Process(ctx, msg)
	p.c.busy.Add(int64(time.Since(start)))
	if err != nil {
		p.c.errors.Add(1)
		return out, err
	}
	p.c.out.Add(uint64(len(out)))
	return out, nil
}

type countingFlusher struct {
	*countingProcessor
	flusher stages.Flusher
}

func (p *countingFlusher) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	start := time.Now()
	out, err := p.flusher.Flush(ctx, mode)
	p.c.busy.Add(int64(time.Since(start)))
	if err != nil {
		p.c.errors.Add(1)
		return out, err
	}
	p.c.out.Add(uint64(len(out)))
	return out, nil
}
