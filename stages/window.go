package stages

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Submission is a message handed to a pipeline whose outcome may still be to
// come.
type Submission interface {
	// Done is closed once the outcome is known.
	Done() <-chan struct{}
	// Err is the outcome once Done is closed: nil when the message was
	// acknowledged, an error wrapping ErrNacked when it was rejected, another
	// error when the pipeline stopped before deciding.
	Err() error
}

// SubmitFunc hands msg to a pipeline and returns once the pipeline processed
// it (its chain ran and what came out was written, or it failed: then the
// Submission is already done with a nack), without waiting for it to be
// acknowledged, which may take much longer behind a buffering stage. A source
// submitting from one goroutine thus has its messages processed in its order.
type SubmitFunc func(ctx context.Context, msg *message.Message) (Submission, error)

type submitKey struct{}

type submitter struct {
	submit   SubmitFunc
	window   int
	flushNow func()
}

// WithSubmit returns ctx carrying the pipeline's SubmitFunc, the number of
// messages a source may have in flight at once, and flushNow (may be nil), which
// asks the pipeline to flush its buffering stages completely soon; the runtime
// gives it to every source's Read. NewWindow looks it up.
func WithSubmit(ctx context.Context, submit SubmitFunc, window int, flushNow func()) context.Context {
	return context.WithValue(ctx, submitKey{}, submitter{submit, max(window, 1), flushNow})
}

// DefaultWindow is the in-flight bound of a Window whose context does not say.
const DefaultWindow = 4096

// Window lets a source that emits from one goroutine have many messages in
// flight: Emit returns once the pipeline processed the message, while the
// window has room, and the acknowledgements are collected in emit order. A
// message is only done once the pipeline acknowledged it — for a pipeline with
// a buffering stage that may be long after it was processed (an encoder's
// max_age), which is why waiting for each message in turn would be slow.
//
// A message nacked while processed is handed over again after a backoff (as
// EmitRetrying does) before Emit returns, so the pipeline processes a source's
// messages in order. One nacked later, when output holding its data could not
// be written, is handed over again when it reaches the head of the window,
// after messages emitted after it. A Window is used by one goroutine. Without a
// SubmitFunc in its context (a source driven by a test harness), it hands over
// one message at a time through the EmitFunc.
type Window struct {
	emit     EmitFunc
	submit   SubmitFunc // nil: one message at a time through emit
	flushNow func()     // nil: the pipeline flushes on its own schedule
	size     int
	onNack   func(err error, wait time.Duration)
	queue    []*windowEntry // emitted, not done, in emit order
	backoff  time.Duration
}

type windowEntry struct {
	msg    *message.Message // as emitted; copies are handed over
	sub    Submission
	onDone func()
}

// NewWindow returns a Window over emit and the SubmitFunc of ctx (see
// WithSubmit). onNack, if not nil, is called with each nack and the wait before
// the message is handed over again.
func NewWindow(ctx context.Context, emit EmitFunc, onNack func(err error, wait time.Duration)) *Window {
	w := &Window{emit: emit, size: DefaultWindow, onNack: onNack, backoff: RetryFirstBackoff}
	if s, ok := ctx.Value(submitKey{}).(submitter); ok {
		w.submit, w.size, w.flushNow = s.submit, s.window, s.flushNow
	}
	return w
}

// Emit hands msg to the pipeline; onDone (if not nil) is called once it was
// acknowledged, from a later call of Emit or Wait, in emit order. Emit blocks
// while the window is full. It returns an error only when ctx ended or the
// pipeline stopped; messages not done by then never get their onDone.
func (w *Window) Emit(ctx context.Context, msg *message.Message, onDone func()) error {
	if w.submit == nil {
		if err := EmitRetrying(ctx, w.emit, msg, w.onNack); err != nil {
			return err
		}
		if onDone != nil {
			onDone()
		}
		return nil
	}
	if err := w.collect(ctx, w.size-1); err != nil {
		return err
	}
	e := &windowEntry{msg: msg, onDone: onDone}
	if err := w.handOver(ctx, e); err != nil {
		return err
	}
	w.queue = append(w.queue, e)
	return nil
}

// handOver submits a copy of e's message until it is not nacked while
// processed, waiting a growing backoff between attempts.
func (w *Window) handOver(ctx context.Context, e *windowEntry) error {
	for {
		sub, err := w.submit(ctx, e.msg.CopyWithContext())
		if err != nil {
			return err
		}
		select {
		case <-sub.Done():
			if err := sub.Err(); err != nil {
				if !errors.Is(err, ErrNacked) {
					return err
				}
				if err := w.backOff(ctx, err); err != nil {
					return err
				}
				continue
			}
		default:
		}
		e.sub = sub
		w.backoff = RetryFirstBackoff
		return nil
	}
}

// backOff reports a nack and waits before the next attempt.
func (w *Window) backOff(ctx context.Context, nackErr error) error {
	wait := w.backoff
	if w.onNack != nil {
		w.onNack(nackErr, wait)
	}
	w.backoff = min(2*w.backoff, RetryMaxBackoff)
	return Sleep(ctx, wait)
}

// Wait blocks until every message emitted so far is done (nil), ctx ended or
// the pipeline stopped. A source calls it when it has nothing more to emit for
// now (the end of its input).
func (w *Window) Wait(ctx context.Context) error { return w.collect(ctx, 0) }

// Bound caps the messages in flight at n (at least 1), below what the context
// allows: a source whose own producer stops sending past some unacknowledged
// messages (MQTT's receive maximum) bounds the window under that, so that a full
// window asks the pipeline for a flush rather than wait for its blocks' max_age.
func (w *Window) Bound(n int) {
	w.size = max(1, min(w.size, n))
}

// After calls onDone once every message emitted so far is done, in order with
// their own onDone: for an input the source settles without emitting it (one it
// drops, or dead-letters) whose acknowledgement must not overtake earlier ones.
func (w *Window) After(onDone func()) {
	if len(w.queue) == 0 || w.submit == nil {
		onDone()
		return
	}
	w.queue = append(w.queue, &windowEntry{sub: settledSubmission{}, onDone: onDone})
}

// Ready is closed when the oldest message in flight is done (nil when none is
// in flight): a source waiting for input selects on it and then calls Collect,
// so acknowledgements do not wait for the next message.
func (w *Window) Ready() <-chan struct{} {
	if len(w.queue) == 0 {
		return nil
	}
	return w.queue[0].sub.Done()
}

// Collect takes every outcome already known, without waiting (a nacked message
// is handed over again after its backoff). Its error is that of Emit.
func (w *Window) Collect(ctx context.Context) error { return w.collect(ctx, len(w.queue)) }

// InFlight is the number of messages emitted and not done yet.
func (w *Window) InFlight() int { return len(w.queue) }

// collect takes the outcomes at the head of the queue: every one already known,
// and waits until at most keep messages are left in flight. Before it waits, it
// asks the pipeline to flush its buffering stages at once rather than when
// their blocks are due: the messages waited for are only done once their data
// was written (a window too small for what a source emits within an encoder's
// max_age therefore makes smaller frames).
func (w *Window) collect(ctx context.Context, keep int) error {
	for len(w.queue) > 0 {
		e := w.queue[0]
		select {
		case <-e.sub.Done():
		default:
			if len(w.queue) <= keep {
				return nil
			}
			if w.flushNow != nil {
				w.flushNow()
			}
			select {
			case <-e.sub.Done():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := e.sub.Err()
		switch {
		case err == nil:
			w.queue[0] = nil
			w.queue = w.queue[1:]
			if e.onDone != nil {
				e.onDone()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, ErrNacked):
			return err
		default: // its data was not written: hand it over again
			if err := w.backOff(ctx, err); err != nil {
				return err
			}
			if err := w.handOver(ctx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// settledSubmission is an entry of After: done from the start.
type settledSubmission struct{}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (settledSubmission) Done() <-chan struct{} { return closedDone }
func (settledSubmission) Err() error            { return nil }
