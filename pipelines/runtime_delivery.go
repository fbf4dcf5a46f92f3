package pipelines

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/edgeflow/edgeflow/stages"
)

// This file: how one message travels — the processor chain, the sinks, retries
// and redeliveries, and the flushed output of buffering stages.

// handle is the router handler of every source: the processor chain, then every
// sink. If a delivery fails after the chain succeeded, a retry or redelivery of
// the message (same UUID) reuses the chain's output and writes only to the sinks
// that did not take it yet, so stateful processors (the encoder) never see a
// message twice and sinks do not get duplicates from the runtime.
func (r *Runner) handle(msg *message.Message) error {
	d := r.deliveries.get(deliveryKey(msg))
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	ctx := msg.Context()
	if !d.processed {
		out, err := r.runChain(ctx, 0, []*message.Message{msg})
		if err != nil {
			return err
		}
		d.out, d.processed = out, true
		d.written = make([]bool, len(r.sinks))
	}
	return r.writeSinks(ctx, d.out, d.written)
}

// runChain passes msgs through the processors from index from on.
func (r *Runner) runChain(ctx context.Context, from int, msgs []*message.Message) ([]*message.Message, error) {
	for i := from; i < len(r.procs) && len(msgs) > 0; i++ {
		p := r.procs[i]
		var next []*message.Message
		for _, m := range msgs {
			mctx := m.Context()
			if mctx == context.Background() {
				mctx = ctx
			}
			out, err := p.proc.Process(mctx, m)
			if err != nil {
				if StepOf(err) == "" {
					err = &stepError{Path: p.step.Path, Err: err}
				}
				return nil, err
			}
			next = append(next, out...)
		}
		msgs = next
	}
	return msgs, nil
}

// writeSinks writes msgs to every sink not yet marked written.
func (r *Runner) writeSinks(ctx context.Context, msgs []*message.Message, written []bool) error {
	if len(msgs) == 0 {
		return nil
	}
	for i, s := range r.sinks {
		if written[i] {
			continue
		}
		start := time.Now()
		err := safeWrite(ctx, s.sink, msgs)
		s.stats.busy.Add(int64(time.Since(start)))
		if err != nil {
			s.stats.errors.Add(1)
			return &stepError{Path: s.step.Path, Err: err}
		}
		s.stats.in.Add(uint64(len(msgs)))
		written[i] = true
	}
	return nil
}

func safeWrite(ctx context.Context, s stages.Sink, msgs []*message.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return s.Write(ctx, msgs)
}

// maxPendingBatches bounds the flushed output kept for a later flush while the
// sinks fail; beyond it the oldest batches are dropped.
const maxPendingBatches = 10000

// pendingBatch is flushed output some sink has not taken yet.
type pendingBatch struct {
	from     string // path of the flushed stage
	out      []*message.Message
	written  []bool
	failures int // flushes that failed to write it
}

// flush flushes every buffering processor in order and passes what it returns
// through the rest of the chain to the sinks. A failed write is retried in place
// like a message; output still not written is kept (in order) and written first
// at the next flush, up to the allowed redeliveries, then dropped, logged and
// counted. With final set, whatever is still pending at the end is dropped.
// Failures are logged here; the error joins them for the caller.
func (r *Runner) flush(ctx context.Context, final bool) error {
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	var errs []error
	for i, p := range r.procs {
		if p.flusher == nil {
			continue
		}
		mode := stages.FlushDue
		if final {
			mode = stages.FlushAll
		}
		out, err := p.flusher.Flush(ctx, mode)
		if err != nil {
			if StepOf(err) == "" {
				err = &stepError{Path: p.step.Path, Err: err}
			}
			r.log.Error("flush failed", "step", p.step.Path, "error", err)
			errs = append(errs, fmt.Errorf("flush: %w", err))
			continue
		}
		flushed := len(out)
		out, err = r.runChain(ctx, i+1, out)
		if err != nil {
			r.stats.flushDropped.Add(uint64(flushed))
			r.log.Error("flushed messages failed; dropping them", "from", p.step.Path, "step", StepOf(err),
				"messages", flushed, "error", err)
			errs = append(errs, fmt.Errorf("flush of %s: %w", p.step.Path, err))
			continue
		}
		if len(out) > 0 {
			r.pending = append(r.pending, &pendingBatch{from: p.step.Path, out: out, written: make([]bool, len(r.sinks))})
		}
	}
	if over := len(r.pending) - maxPendingBatches; over > 0 {
		for _, b := range r.pending[:over] {
			r.dropBatch(b, errors.New("too many flushed batches waiting for the sinks"))
		}
		r.pending = r.pending[over:]
	}
	for len(r.pending) > 0 {
		b := r.pending[0]
		err := r.writeRetrying(ctx, b.out, b.written)
		if err == nil {
			r.pending = r.pending[1:]
			continue
		}
		b.failures++
		if final || (r.cfg.maxRedeliveries >= 0 && b.failures > r.cfg.maxRedeliveries) {
			r.dropBatch(b, err)
			errs = append(errs, fmt.Errorf("flush of %s: %d messages dropped: %w", b.from, len(b.out), err))
			r.pending = r.pending[1:]
			continue
		}
		r.log.Warn("writing flushed messages failed; keeping them for the next flush", "step", StepOf(err),
			"from", b.from, "messages", len(b.out), "attempt", b.failures, "error", err)
		break // keep the order: later batches wait behind this one
	}
	return errors.Join(errs...)
}

func (r *Runner) dropBatch(b *pendingBatch, err error) {
	r.stats.flushDropped.Add(uint64(len(b.out)))
	r.log.Error("dropping flushed messages: no write succeeded", "step", StepOf(err), "from", b.from,
		"messages", len(b.out), "error", err)
}

// writeRetrying is writeSinks with the in-place retries and backoff of messages.
func (r *Runner) writeRetrying(ctx context.Context, msgs []*message.Message, written []bool) error {
	delay := r.cfg.retryInterval
	for attempt := 0; ; attempt++ {
		err := r.writeSinks(ctx, msgs, written)
		if err == nil || attempt >= r.cfg.retries || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		delay = min(2*delay, r.cfg.retryMaxDelay)
	}
}

// deliveryMiddleware is the outermost router middleware: it counts outcomes,
// logs failures with the step they came from, and drops a message (acks it to its
// source) once it failed more than the allowed redeliveries.
func (r *Runner) deliveryMiddleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err == nil {
			r.deliveries.forget(deliveryKey(msg))
			r.stats.acked.Add(1)
			return out, nil
		}
		step := StepOf(err)
		var pe middleware.RecoveredPanicError
		if errors.As(err, &pe) {
			r.log.Debug("panic stack", "stack", pe.Stacktrace)
			err = fmt.Errorf("panic: %v", pe.V)
		}
		if errors.Is(err, context.Canceled) && msg.Context().Err() != nil {
			r.stats.nacked.Add(1)
			return nil, err
		}
		failures := r.deliveries.fail(deliveryKey(msg))
		if r.cfg.maxRedeliveries >= 0 && failures > r.cfg.maxRedeliveries {
			r.deliveries.forget(deliveryKey(msg))
			r.stats.dropped.Add(1)
			r.log.Error("dropping message: it failed on every delivery", "step", step, "message", msg.UUID,
				"deliveries", failures, "error", err)
			return nil, nil
		}
		r.stats.nacked.Add(1)
		r.log.Warn("message failed; nacking it to its source", "step", step, "message", msg.UUID,
			"delivery", failures, "error", err)
		return nil, err
	}
}

// deliveryKey identifies a message across redeliveries: its source (the router
// handler, one per source) and its UUID.
func deliveryKey(msg *message.Message) string {
	return message.HandlerNameFromCtx(msg.Context()) + "\x00" + msg.UUID
}

// maxTrackedDeliveries bounds how many failed messages the runtime remembers
// (their failure count and the output already made of them).
const maxTrackedDeliveries = 4096

// delivery is what the runtime knows of one message (by UUID) across in-place
// retries and redeliveries.
type delivery struct {
	seq       uint64
	failures  int
	processed bool               // the processor chain ran; out is its output
	out       []*message.Message // under Runner.chainMu
	written   []bool             // per sink, under Runner.chainMu
}

// deliveryTable holds the deliveries of messages in flight or failed,
// remembering at most limit of them (the oldest are forgotten first).
type deliveryTable struct {
	mu    sync.Mutex
	limit int
	seq   uint64
	m     map[string]*delivery
	order []deliveryRef // insertion order; stale refs are skipped
}

type deliveryRef struct {
	uuid string
	seq  uint64
}

func newDeliveryTable(limit int) *deliveryTable {
	return &deliveryTable{limit: limit, m: map[string]*delivery{}}
}

func (t *deliveryTable) get(uuid string) *delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.m[uuid]; ok {
		return d
	}
	t.seq++
	d := &delivery{seq: t.seq}
	t.m[uuid] = d
	t.order = append(t.order, deliveryRef{uuid, d.seq})
	for len(t.m) > t.limit && len(t.order) > 0 {
		ref := t.order[0]
		t.order = t.order[1:]
		if cur, ok := t.m[ref.uuid]; ok && cur.seq == ref.seq {
			delete(t.m, ref.uuid)
		}
	}
	if len(t.order) > 2*t.limit+16 { // drop stale refs
		live := t.order[:0]
		for _, ref := range t.order {
			if cur, ok := t.m[ref.uuid]; ok && cur.seq == ref.seq {
				live = append(live, ref)
			}
		}
		t.order = live
	}
	return d
}

// fail records one more failed delivery of uuid and returns the total.
func (t *deliveryTable) fail(uuid string) int {
	d := t.get(uuid)
	t.mu.Lock()
	defer t.mu.Unlock()
	d.failures++
	return d.failures
}

func (t *deliveryTable) forget(uuid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, uuid)
}
