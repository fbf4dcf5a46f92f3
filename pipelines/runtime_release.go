package pipelines

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/stages"
)

// This file: when a source message is acknowledged to its source.
//
// The router's ack of a message means its chain output was written by every
// sink. That is not enough when a buffering stage kept some of its data for a
// later block: the runtime numbers every message it runs through the chain
// (Runner.inputSeq, in processing order) and releases a message — acknowledges
// it to its source — once its own delivery succeeded and the pipeline watermark
// passed its number. The watermark is the lowest of
//   - the number after the last message processed,
//   - every buffering stage's stages.Watermarker.Watermark,
//   - the floor of every output not yet written by every sink: a flushed batch
//     waiting for the sinks, a message whose chain output a sink refused (the
//     floor is the watermark before the chain or flush that made it, the lowest
//     number whose data it may hold).
// When such output is finally given up (the flushed batch is dropped, the
// message is nacked or dropped), the messages whose data it may hold and that
// were not released yet are nacked to their sources, which deliver them again.

// sourceInput is one message a source handed over: its pipeline number once
// processed, and its outcome for the source.
type sourceInput struct {
	sub  *sourceSubscriber
	uuid string

	seq        uint64 // pipeline input number; under Runner.chainMu
	registered bool   // waiting for release; under Runner.chainMu

	span trace.Span // the ingest span, nil without tracing

	once sync.Once
	done chan struct{}
	err  error
}

func (in *sourceInput) Done() <-chan struct{} { return in.done }

func (in *sourceInput) Err() error {
	select {
	case <-in.done:
		return in.err
	default:
		return nil
	}
}

// settle records the outcome; the first one counts.
func (in *sourceInput) settle(err error) {
	in.once.Do(func() {
		in.err = err
		if errors.Is(err, stages.ErrNacked) {
			in.sub.counters.errors.Add(1)
		}
		if in.span != nil {
			endSpan(in.span, err)
		}
		close(in.done)
	})
}

type sourceInputKey struct{}

// inputOf returns the sourceInput a message was handed over as, or nil.
func inputOf(msg *message.Message) *sourceInput {
	in, _ := msg.Context().Value(sourceInputKey{}).(*sourceInput)
	return in
}

// releaseQueue holds the messages whose delivery succeeded and that wait for
// the watermark, by input number.
type releaseQueue struct {
	mu      sync.Mutex
	waiting []*sourceInput // ascending seq
}

func (q *releaseQueue) add(in *sourceInput) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := len(q.waiting)
	for i > 0 && q.waiting[i-1].seq > in.seq {
		i--
	}
	q.waiting = slices.Insert(q.waiting, i, in)
}

// release acknowledges every waiting message numbered below w.
func (q *releaseQueue) release(w uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for n < len(q.waiting) && q.waiting[n].seq < w {
		q.waiting[n].settle(nil)
		q.waiting[n] = nil
		n++
	}
	if n > 0 {
		q.waiting = q.waiting[n:]
	}
}

// nackRange nacks every waiting message numbered in [lo, hi) and returns how
// many.
func (q *releaseQueue) nackRange(lo, hi uint64, cause error) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept, n := q.waiting[:0], 0
	for _, in := range q.waiting {
		if in.seq >= lo && in.seq < hi {
			in.settle(fmt.Errorf("%s: message %s: %w: its data was in output that was not written: %w",
				in.sub.step.Path, in.uuid, stages.ErrNacked, cause))
			n++
			continue
		}
		kept = append(kept, in)
	}
	clear(q.waiting[len(kept):])
	q.waiting = kept
	return n
}

// nackAll nacks every waiting message.
func (q *releaseQueue) nackAll(cause error) int { return q.nackRange(0, ^uint64(0), cause) }

func (q *releaseQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// markerFloorLocked is the lowest input number whose data a buffering stage
// still holds, or the next input number; under chainMu.
func (r *Runner) markerFloorLocked() uint64 {
	w := r.inputSeq + 1
	for _, p := range r.procs {
		if p.marker != nil {
			w = min(w, p.marker.Watermark())
		}
	}
	return w
}

// watermarkLocked is the pipeline watermark: every input numbered below it has
// all its data written by every sink; under chainMu.
func (r *Runner) watermarkLocked() uint64 {
	w := r.markerFloorLocked()
	for _, b := range r.pending {
		w = min(w, b.floor)
	}
	for d := range r.unwritten {
		w = min(w, d.floor)
	}
	return w
}

// releaseLocked acknowledges the messages the watermark passed; under chainMu.
func (r *Runner) releaseLocked() {
	if r.releases.len() > 0 {
		r.releases.release(r.watermarkLocked())
	}
}

// giveUpOutput nacks the waiting messages numbered in [floor, upTo) because
// output that may hold their data will not be written.
func (r *Runner) giveUpOutput(floor, upTo uint64, cause error) {
	if floor >= upTo {
		return
	}
	if n := r.releases.nackRange(floor, upTo, cause); n > 0 {
		r.stats.nacked.Add(uint64(n))
		r.log.Warn("nacking messages whose buffered data was not written", "messages", n, "error", cause)
	}
}

// withInputSeq returns ctx carrying seq for a buffering stage, ctx itself for
// the others.
func withInputSeq(ctx context.Context, p builtProcessor, seq uint64) context.Context {
	if p.marker == nil {
		return ctx
	}
	return stages.WithInputSeq(ctx, seq)
}
