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

// SubmitFunc hands msg to a pipeline and returns once the pipeline took it,
// without waiting for its outcome. Messages are processed in the order they were
// submitted. After a message of a source was nacked, the pipeline nacks the
// messages that source submitted after it without processing them, until one is
// submitted with resume set: a source hands the failed message over again with
// resume, then the ones after it, and its messages stay in order.
type SubmitFunc func(ctx context.Context, msg *message.Message, resume bool) (Submission, error)

type submitKey struct{}

type submitter struct {
	submit SubmitFunc
	window int
}

// WithSubmit returns ctx carrying the pipeline's SubmitFunc and the number of
// messages a source may have in flight at once; the runtime gives it to every
// source's Read. NewWindow looks it up.
func WithSubmit(ctx context.Context, submit SubmitFunc, window int) context.Context {
	return context.WithValue(ctx, submitKey{}, submitter{submit, max(window, 1)})
}

// DefaultWindow is the in-flight bound of a Window whose context does not say.
const DefaultWindow = 4096

// Window lets a source that emits from one goroutine have many messages in
// flight: Emit hands a message over and returns at once while the window has
// room, and the pipeline's outcomes are collected in emit order. A message is
// only done once the pipeline acknowledged it — for a pipeline with a buffering
// stage that may be long after it was handed over (an encoder's max_age), which is
// why waiting for each message in turn would be slow.
//
// A nacked message is handed over again after a backoff (as EmitRetrying does),
// followed by every message emitted after it, so that the pipeline sees a
// source's messages in order. A Window is used by one goroutine. Without a
// SubmitFunc in its context (a source driven by a test harness), it hands over
// one message at a time through the EmitFunc.
type Window struct {
	emit    EmitFunc
	submit  SubmitFunc // nil: one message at a time through emit
	size    int
	onNack  func(err error, wait time.Duration)
	queue   []*windowEntry // emitted, not done, in emit order
	backoff time.Duration
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
		w.submit, w.size = s.submit, s.window
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
	sub, err := w.submit(ctx, msg.CopyWithContext(), false)
	if err != nil {
		return err
	}
	e.sub = sub
	w.queue = append(w.queue, e)
	return nil
}

// Wait blocks until every message emitted so far is done (nil), ctx ended or
// the pipeline stopped.
func (w *Window) Wait(ctx context.Context) error { return w.collect(ctx, 0) }

// InFlight is the number of messages emitted and not done yet.
func (w *Window) InFlight() int { return len(w.queue) }

// collect takes the outcomes at the head of the queue: every one already known,
// and waits until at most keep messages are left in flight.
func (w *Window) collect(ctx context.Context, keep int) error {
	for len(w.queue) > 0 {
		e := w.queue[0]
		select {
		case <-e.sub.Done():
		default:
			if len(w.queue) <= keep {
				return nil
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
			w.backoff = RetryFirstBackoff
			if e.onDone != nil {
				e.onDone()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, ErrNacked):
			return err
		default:
			if err := w.redeliver(ctx, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// redeliver hands every message in flight over again, in order, after a backoff:
// the head was nacked, and the pipeline nacks what follows it until it is back.
func (w *Window) redeliver(ctx context.Context, nackErr error) error {
	wait := w.backoff
	if w.onNack != nil {
		w.onNack(nackErr, wait)
	}
	if err := Sleep(ctx, wait); err != nil {
		return err
	}
	w.backoff = min(2*w.backoff, RetryMaxBackoff)
	for i, e := range w.queue {
		sub, err := w.submit(ctx, e.msg.CopyWithContext(), i == 0)
		if err != nil {
			return err
		}
		e.sub = sub
	}
	return nil
}
