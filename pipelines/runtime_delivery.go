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
// message twice and sinks do not get duplicates from the runtime. Once written,
// the message waits for the pipeline watermark (runtime_release.go).
func (r *Runner) handle(msg *message.Message) error {
	d := r.deliveries.get(deliveryKey(msg))
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	ctx := msg.Context()
	if !d.processed {
		d.floor = r.markerFloorLocked()
		r.inputSeq++
		d.inputSeq = r.inputSeq
		out, err := r.runChain(ctx, 0, []*message.Message{msg}, d.inputSeq, d.floor)
		if err != nil {
			return err
		}
		d.out, d.processed = out, true
		d.written = make([]bool, len(r.sinks))
		if d.floor < d.inputSeq && len(out) > 0 {
			r.unwritten[d] = struct{}{} // it holds earlier inputs' data
		}
	}
	if err := r.writeSinks(ctx, d.out, d.written); err != nil {
		return err
	}
	delete(r.unwritten, d)
	in := inputOf(msg)
	if in == nil {
		r.releaseLocked()
		return nil
	}
	in.seq, in.registered = d.inputSeq, true
	if r.releases.len() == 0 && in.seq < r.watermarkLocked() {
		in.settle(nil)
		return nil
	}
	r.releases.add(in)
	r.releaseLocked()
	return nil
}

// runChain passes msgs through the processors from index from on. seq is the
// input number for the first buffering stage, floor for the ones after it (the
// lowest input whose data what reaches them may hold).
func (r *Runner) runChain(ctx context.Context, from int, msgs []*message.Message, seq, floor uint64) ([]*message.Message, error) {
	for i := from; i < len(r.procs) && len(msgs) > 0; i++ {
		p := r.procs[i]
		if i > r.firstMarker {
			seq = floor
		}
		var next []*message.Message
		for _, m := range msgs {
			mctx := m.Context()
			if mctx == context.Background() {
				mctx = ctx
			}
			out, err := p.proc.Process(withInputSeq(mctx, p, seq), m)
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
	failures int    // flushes that failed to write it
	floor    uint64 // lowest input number whose data it may hold
	upTo     uint64 // inputs numbered from upTo on were not processed when it was flushed
}

// flush flushes every buffering processor in order and passes what it returns
// through the rest of the chain to the sinks. A failed write is retried in place
// like a message; output still not written is kept (in order) and written first
// at the next flush, up to the allowed redeliveries, then dropped, logged and
// counted. With final set, whatever is still pending at the end is dropped.
// Failures are logged here; the error joins them for the caller.
//
// Messages whose data the flushed output held are released once it is written;
// when it is dropped they are nacked (see runtime_release.go).
func (r *Runner) flush(ctx context.Context, mode stages.FlushMode, final bool) error {
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	var errs []error
	for i, p := range r.procs {
		if p.flusher == nil {
			continue
		}
		floor, upTo := r.markerFloorLocked(), r.inputSeq+1
		out, err := p.flusher.Flush(withInputSeq(ctx, p, floor), mode)
		if err != nil {
			if StepOf(err) == "" {
				err = &stepError{Path: p.step.Path, Err: err}
			}
			r.log.Error("flush failed", "step", p.step.Path, "error", err)
			errs = append(errs, fmt.Errorf("flush: %w", err))
			continue
		}
		flushed := len(out)
		out, err = r.runChain(ctx, i+1, out, floor, floor)
		if err != nil {
			r.stats.flushDropped.Add(uint64(flushed))
			r.giveUpOutput(floor, upTo, err)
			r.log.Error("flushed messages failed; dropping them", "from", p.step.Path, "step", StepOf(err),
				"messages", flushed, "error", err)
			errs = append(errs, fmt.Errorf("flush of %s: %w", p.step.Path, err))
			continue
		}
		if len(out) > 0 {
			r.pending = append(r.pending, &pendingBatch{from: p.step.Path, out: out, written: make([]bool, len(r.sinks)),
				floor: floor, upTo: upTo})
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
	r.releaseLocked()
	return errors.Join(errs...)
}

func (r *Runner) dropBatch(b *pendingBatch, err error) {
	r.stats.flushDropped.Add(uint64(len(b.out)))
	r.log.Error("dropping flushed messages: no write succeeded", "step", StepOf(err), "from", b.from,
		"messages", len(b.out), "error", err)
	r.giveUpOutput(b.floor, b.upTo, err)
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
// logs failures with the step they came from, and drops a message (acks it to
// its source) once it failed more than the allowed redeliveries.
func (r *Runner) deliveryMiddleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		return r.deliver(h, msg, inputOf(msg))
	}
}

// deliver runs h on msg and settles what the source waits for: a message that
// failed for good is nacked, one that was dropped is acknowledged, one that
// succeeded waits for the watermark (handle registered it).
func (r *Runner) deliver(h message.HandlerFunc, msg *message.Message, in *sourceInput) ([]*message.Message, error) {
	out, err := h(msg)
	if err == nil {
		r.deliveries.forget(deliveryKey(msg))
		r.stats.acked.Add(1)
		if in != nil && !in.registered { // not handled by this runtime's handler
			in.settle(nil)
		}
		return out, nil
	}
	step := StepOf(err)
	var pe middleware.RecoveredPanicError
	if errors.As(err, &pe) {
		r.log.Debug("panic stack", "stack", pe.Stacktrace)
		err = fmt.Errorf("panic: %v", pe.V)
	}
	r.abandonOutput(msg, err)
	nack := func() ([]*message.Message, error) {
		if in != nil {
			in.settle(fmt.Errorf("%s: message %s: %w: %w", in.sub.step.Path, msg.UUID, stages.ErrNacked, err))
		}
		return nil, err
	}
	if errors.Is(err, context.Canceled) && msg.Context().Err() != nil {
		r.stats.nacked.Add(1)
		return nack()
	}
	failures := r.deliveries.fail(deliveryKey(msg))
	if r.cfg.maxRedeliveries >= 0 && failures > r.cfg.maxRedeliveries {
		r.deliveries.forget(deliveryKey(msg))
		r.stats.dropped.Add(1)
		r.log.Error("dropping message: it failed on every delivery", "step", step, "message", msg.UUID,
			"deliveries", failures, "error", err)
		if in != nil {
			in.settle(nil)
		}
		return nil, nil
	}
	r.stats.nacked.Add(1)
	r.log.Warn("message failed; nacking it to its source", "step", step, "message", msg.UUID,
		"delivery", failures, "error", err)
	return nack()
}

// abandonOutput gives up the chain output of a failed message that holds
// earlier inputs' data: they are nacked rather than waiting for a redelivery
// that may never come. A redelivery still writes the output.
func (r *Runner) abandonOutput(msg *message.Message, cause error) {
	d := r.deliveries.lookup(deliveryKey(msg))
	if d == nil {
		return
	}
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	if _, ok := r.unwritten[d]; ok {
		delete(r.unwritten, d)
		r.giveUpOutput(d.floor, d.inputSeq, cause)
		r.releaseLocked()
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
	seq       uint64 // insertion order in the table
	inputSeq  uint64 // pipeline input number of the chain run; under Runner.chainMu
	floor     uint64 // lowest input number whose data out may hold; under Runner.chainMu
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

// lookup returns the delivery of uuid, or nil.
func (t *deliveryTable) lookup(uuid string) *delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[uuid]
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
