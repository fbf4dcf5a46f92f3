package pipelines

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// errSourceStopped is returned by an EmitFunc once the pipeline stopped taking
// messages from the source.
var errSourceStopped = errors.New("pipeline stopped reading from the source")

// sourceSubscriber adapts a stages.Source to a watermill message.Subscriber: a
// goroutine calls Read, and every message Read emits goes to the subscriber's
// channel; emit then blocks until the pipeline acknowledged or nacked the
// message (see runtime_release.go: a message is acknowledged once all its data
// was written, which with a buffering stage may be well after its chain ran).
// Sources that emit from one goroutine keep many messages in flight with a
// stages.Window over the stages.SubmitFunc in Read's context: a submission
// returns once the message was processed, so a source's messages are still
// processed one at a time in its order, and only the waits for their release
// overlap.
//
// A source redelivers a message by emitting it again (or a message with the same
// UUID): the runtime counts its failed deliveries by source and UUID and reuses
// what the processors already made of it. A message without a UUID gets one.
//
// Messages are handed over with a context that keeps the values of the context
// the source gave them but is cancelled only when the runner aborts, so messages
// already in the pipeline finish while the runner drains. For the same reason
// emit keeps waiting for the outcome of a message it handed over after the
// source's ctx ended, until the runner aborts.
type sourceSubscriber struct {
	step     Step
	src      stages.Source
	pipeline string
	counters *stageCounters
	tracer   *sourceTracer   // nil without tracing
	readCtx  context.Context // ends when sources must stop (the run context)
	abortCtx context.Context // ends when in-flight work must be cancelled

	window   int    // messages in flight a stages.Window may have
	flushNow func() // asks the runner for a complete flush

	out      chan *message.Message
	mu       sync.RWMutex // held for reading while sending on out; for writing to close it
	closed   bool
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	cancel   context.CancelFunc // cancels Read's context
	done     chan struct{}      // closed when Read returned
	err      error              // Read's result, valid after done
	started  bool

	// Hand-overs under way (handed to the router and not processed yet); once
	// readCtx ended no new one starts, and quietC is closed when the last ends.
	busyMu sync.Mutex
	busy   int
	quietC chan struct{}
}

func newSourceSubscriber(step Step, src stages.Source, pipeline string, counters *stageCounters, readCtx, abortCtx context.Context, window int) *sourceSubscriber {
	s := &sourceSubscriber{step: step, src: src, pipeline: pipeline, counters: counters,
		readCtx: readCtx, abortCtx: abortCtx, window: window,
		out: make(chan *message.Message), stop: make(chan struct{}), done: make(chan struct{})}
	return s
}

// Subscribe starts reading the source. The topic is ignored: a source is its own
// topic. The channel is closed when Read returned or the subscriber was closed.
func (s *sourceSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	if s.started {
		return nil, fmt.Errorf("%s: source subscribed twice", s.step.Path)
	}
	s.started = true
	readCtx, cancel := context.WithCancel(s.readCtx)
	s.cancel = cancel
	go func() {
		select {
		case <-ctx.Done(): // the router stops this handler
			_ = s.Close()
		case <-s.done:
		}
	}()
	go func() {
		err := s.read(readCtx)
		s.err = err
		cancel()
		// done before the channel closes: once the router saw the end of the
		// source, its result is there to read.
		close(s.done)
		s.closeOut()
	}()
	return s.out, nil
}

// read calls the source's Read, turning a panic into an error.
func (s *sourceSubscriber) read(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return s.src.Read(stages.WithSubmit(ctx, s.submit, s.window, s.flushNow), s.emit)
}

// Close stops the source: Read's context is cancelled and the channel closed.
// It does not wait for Read to return. Close is idempotent.
func (s *sourceSubscriber) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		if s.cancel != nil {
			s.cancel()
		}
	})
	s.closeOut()
	return nil
}

func (s *sourceSubscriber) closeOut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.out)
	}
}

// wait blocks until Read returned or d passed; it reports whether Read returned.
func (s *sourceSubscriber) wait(d time.Duration) bool {
	select {
	case <-s.done:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
		return true
	case <-t.C:
		return false
	}
}

// emit is the stages.EmitFunc given to the source's Read: it hands msg over and
// waits for its outcome.
func (s *sourceSubscriber) emit(ctx context.Context, msg *message.Message) error {
	in, err := s.submitInput(ctx, msg)
	if err != nil {
		return err
	}
	select {
	case <-in.done:
		return in.err
	case <-s.abortCtx.Done():
		if err := ctx.Err(); err != nil {
			return err
		}
		return errSourceStopped
	}
}

// submit is the stages.SubmitFunc given to the source's Read (in its context).
func (s *sourceSubscriber) submit(ctx context.Context, msg *message.Message) (stages.Submission, error) {
	in, err := s.submitInput(ctx, msg)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// submitInput hands msg to the router and returns once it was processed
// (its chain ran and its output was written, or it failed), without waiting for
// its release.
func (s *sourceSubscriber) submitInput(ctx context.Context, msg *message.Message) (*sourceInput, error) {
	if msg == nil {
		return nil, fmt.Errorf("%s: emit of a nil message", s.step.Path)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.beginHandOver() {
		return nil, errSourceStopped
	}
	defer s.endHandOver()
	// A message that already has an outcome (a source re-emitting the message it
	// got a nack for) or was not made by message.NewMessage cannot carry a new
	// one: hand over a copy with the same UUID, metadata and payload.
	if settled(msg) {
		msg = msg.CopyWithContext()
	}
	if msg.UUID == "" {
		msg.UUID = watermill.NewUUID()
	}
	if msg.Metadata.Get(stages.MetaPipeline) == "" {
		msg.Metadata.Set(stages.MetaPipeline, s.pipeline)
	}
	in := &sourceInput{sub: s, uuid: msg.UUID, done: make(chan struct{})}
	values := msg.Context()
	if s.tracer != nil {
		values, in.span = s.tracer.start(values, msg)
	}
	msg.SetContext(detachedContext{Context: s.abortCtx, values: context.WithValue(values, sourceInputKey{}, in)})
	if err := s.handOver(ctx, msg, in); err != nil {
		if in.span != nil {
			endSpan(in.span, err)
		}
		return nil, err
	}
	select {
	case <-msg.Acked():
	case <-msg.Nacked():
	case <-s.abortCtx.Done():
	}
	return in, nil
}

// beginHandOver counts a hand-over that starts, unless the run context ended:
// once the pipeline drains, no message enters it any more, so the flush that
// begins the drain holds everything the sources handed over.
func (s *sourceSubscriber) beginHandOver() bool {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	if s.readCtx.Err() != nil {
		return false
	}
	s.busy++
	return true
}

// endHandOver counts a hand-over that ended: the message was processed, or
// never reached the router.
func (s *sourceSubscriber) endHandOver() {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	s.busy--
	if s.busy == 0 && s.quietC != nil {
		close(s.quietC)
		s.quietC = nil
	}
}

// quiet returns a channel closed once no hand-over is under way. Called after
// the run context ended, when none can start, it is closed once the messages
// already handed over were processed.
func (s *sourceSubscriber) quiet() <-chan struct{} {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	if s.busy == 0 {
		return closedChan
	}
	if s.quietC == nil {
		s.quietC = make(chan struct{})
	}
	return s.quietC
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// handOver sends msg to the router.
func (s *sourceSubscriber) handOver(ctx context.Context, msg *message.Message, in *sourceInput) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errSourceStopped
	}
	select {
	case s.out <- msg:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errSourceStopped
	}
	s.counters.out.Add(1)
	return nil
}

// settled reports whether msg cannot be acked or nacked anew.
func settled(msg *message.Message) bool {
	if msg.Acked() == nil || msg.Nacked() == nil {
		return true
	}
	select {
	case <-msg.Acked():
		return true
	case <-msg.Nacked():
		return true
	default:
		return false
	}
}

// detachedContext has the values of one context and the cancellation of another.
type detachedContext struct {
	context.Context                 // deadline, Done and Err
	values          context.Context // values
}

func (c detachedContext) Value(key any) any { return c.values.Value(key) }
