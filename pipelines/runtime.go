package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/edgeflow/edgeflow/stages"
)

// Runner is a built pipeline: every stage constructed, ready to Run once.
//
// Run wires the stages with a watermill router: each source is adapted to a
// subscriber and gets one handler that passes every message through the
// processors, in order, and writes what comes out to every sink. The source
// message is acknowledged only after every sink wrote everything it produced,
// including what buffering stages (stages.Watermarker) kept of it for later
// output (runtime_release.go); any error nacks it back to the source. Calls into
// the processors and sinks are serialised (processors keep state), and each
// source's messages are processed in the order it handed them over. Buffering
// processors are flushed on a ticker, when a source waits for its messages in
// flight, and when the pipeline drains.
type Runner struct {
	p       *Pipeline
	env     stages.Env
	log     *slog.Logger
	cfg     runnerConfig
	sources []builtSource
	procs   []builtProcessor
	sinks   []builtSink
	closers []builtCloser // in close order
	stats   *runnerCounters
	tracer  *pipelineTracer // nil without WithTracing
	// deadLetters is where inputs that cannot be parsed go (deadletter.go).
	deadLetters *deadLetterRoute

	chainMu       sync.Mutex // serialises the processor chain and sink writes
	deliveries    *deliveryTable
	pending       []*pendingBatch        // flushed output not yet written, oldest first; under chainMu
	inputSeq      uint64                 // number of the last input run through the chain; under chainMu
	unwritten     map[*delivery]struct{} // chain output holding earlier inputs' data, not written yet; under chainMu
	releases      releaseQueue           // written inputs waiting for the watermark
	firstMarker   int                    // index of the first stages.Watermarker processor, or len(procs)
	flushRequests chan struct{}          // complete flushes asked for by sources

	ran       atomic.Bool
	closed    atomic.Bool
	state     atomic.Int32 // a RunnerState
	closeOnce sync.Once
	closeErr  error
}

type builtSource struct {
	step Step
	src  stages.Source
}

type builtProcessor struct {
	step    Step
	proc    stages.Processor   // with every StageMiddleware applied
	flusher stages.Flusher     // nil unless the stage buffers
	marker  stages.Watermarker // nil unless the stage says which inputs it holds
}

type builtSink struct {
	step  Step
	sink  stages.Sink
	stats *stageCounters
}

type builtCloser struct {
	step   Step
	closer stages.Closer
}

// stepError is an error of one step; the message starts with the step's path.
type stepError struct {
	Path string
	Err  error
}

func (e *stepError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *stepError) Unwrap() error { return e.Err }

// StepOf returns the path of the step an error of a running pipeline came from,
// or "".
func StepOf(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.Path
	}
	return ""
}

// Build constructs every stage of p: sinks first, then processors, then sources,
// so that everything downstream exists before anything can produce. If one fails,
// what was already built is closed and the error names the step. env.Pipeline
// defaults to p.Name.
func (p *Pipeline) Build(ctx context.Context, env stages.Env, opts ...RunnerOption) (*Runner, error) {
	if len(p.Sources) == 0 {
		return nil, fmt.Errorf("%s: pipeline %q has no sources", p.File, p.Name)
	}
	if len(p.Sinks) == 0 {
		return nil, fmt.Errorf("%s: pipeline %q has no sinks", p.File, p.Name)
	}
	if env.Pipeline == "" {
		env.Pipeline = p.Name
	}
	cfg := defaultRunnerConfig()
	for _, o := range opts {
		o(&cfg)
	}
	r := &Runner{p: p, env: env, cfg: cfg, stats: newRunnerCounters(p),
		deliveries: newDeliveryTable(maxTrackedDeliveries), unwritten: map[*delivery]struct{}{},
		flushRequests: make(chan struct{}, 1)}
	r.log = env.Log().With("pipeline", env.Pipeline)
	r.env.Logger = r.log
	r.tracer = newPipelineTracer(cfg.tracerProvider, r.env)

	// built in build order; closed in reverse.
	var built []builtCloser
	fail := func(step Step, err error) (*Runner, error) {
		for i := len(built) - 1; i >= 0; i-- {
			if cerr := built[i].closer.Close(); cerr != nil {
				r.log.Warn("closing stage after failed build", "step", built[i].step.Path, "error", cerr)
			}
		}
		return nil, r.errorAt(step, err)
	}
	buildStep := func(step Step, kind stages.Kind) (any, error) {
		if step.Reg == nil {
			return nil, errors.New("no stage registration")
		}
		if step.Reg.Kind != kind {
			return nil, fmt.Errorf("stage %q is a %s, not a %s", step.Reg.ID, step.Reg.Kind, kind)
		}
		v, err := safeBuild(ctx, step, r.stepEnv(step))
		if err != nil {
			return nil, err
		}
		if c, ok := v.(stages.Closer); ok {
			built = append(built, builtCloser{step, c})
		}
		return v, nil
	}

	if step, err := r.buildDeadLetter(buildStep); err != nil {
		return fail(step, err)
	}
	for _, step := range p.Sinks {
		step.Pipeline = r.env.Pipeline
		v, err := buildStep(step, stages.KindSink)
		if err != nil {
			return fail(step, err)
		}
		raw, ok := v.(stages.Sink)
		if !ok {
			return fail(step, fmt.Errorf("stage %q built a %T, not a sink", step.Reg.ID, v))
		}
		s := raw
		if r.tracer != nil { // innermost: it sees the stage (MessagingSink)
			s = r.tracer.sinkMiddleware(step, s)
		}
		s, spoolCloser, err := spooled(step, s, raw, r.env) // the spool forwards through the tracer
		if err != nil {
			return fail(step, err)
		}
		if spoolCloser != nil { // closed before the sink it drains into
			built = append(built, builtCloser{step, spoolCloser})
		}
		for i := len(r.cfg.sinkMiddleware) - 1; i >= 0; i-- {
			s = r.cfg.sinkMiddleware[i](step, s)
		}
		r.sinks = append(r.sinks, builtSink{step: step, sink: s, stats: r.stats.of(step)})
	}
	procs := make([]builtProcessor, len(p.Stages))
	for i, step := range p.Stages {
		step.Pipeline = r.env.Pipeline
		v, err := buildStep(step, stages.KindProcessor)
		if err != nil {
			return fail(step, err)
		}
		raw, ok := v.(stages.Processor)
		if !ok {
			return fail(step, fmt.Errorf("stage %q built a %T, not a processor", step.Reg.ID, v))
		}
		procs[i] = r.wrapProcessor(step, raw)
	}
	r.procs = procs
	r.firstMarker = len(procs)
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i].marker != nil {
			r.firstMarker = i
		}
	}
	for _, step := range p.Sources {
		v, err := buildStep(step, stages.KindSource)
		if err != nil {
			return fail(step, err)
		}
		s, ok := v.(stages.Source)
		if !ok {
			return fail(step, fmt.Errorf("stage %q built a %T, not a source", step.Reg.ID, v))
		}
		r.sources = append(r.sources, builtSource{step: step, src: s})
	}
	for i := len(built) - 1; i >= 0; i-- {
		r.closers = append(r.closers, built[i])
	}
	return r, nil
}

// safeBuild calls the stage's build function, turning a panic into an error.
func safeBuild(ctx context.Context, step Step, env stages.Env) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while building: %v", p)
		}
	}()
	return step.Reg.Build(ctx, step.Config, env)
}

// errorAt prefixes err with where step is: "file:line: path: err".
func (r *Runner) errorAt(step Step, err error) error {
	err = &stepError{Path: step.Path, Err: err}
	switch {
	case r.p.File != "" && step.Line > 0:
		return fmt.Errorf("%s:%d: %w", r.p.File, step.Line, err)
	case r.p.File != "":
		return fmt.Errorf("%s: %w", r.p.File, err)
	}
	return err
}

// wrapProcessor applies the stage middleware: statistics outermost, then
// tracing, then the configured ones, then the runtime's own guard (panics become errors, outputs
// keep the input's context and carry MetaPipeline).
func (r *Runner) wrapProcessor(step Step, raw stages.Processor) builtProcessor {
	var p stages.Processor = &guardedProcessor{step: step, next: raw, pipeline: r.env.Pipeline}
	if f, ok := raw.(stages.Flusher); ok {
		p = &guardedFlusher{guardedProcessor: p.(*guardedProcessor), flusher: f}
	}
	p = r.wrapDeadLetters(step, p)
	mws := []StageMiddleware{r.stats.statsMiddleware}
	if r.tracer != nil {
		mws = append(mws, r.tracer.tracingMiddleware)
	}
	mws = append(mws, r.cfg.stageMiddleware...)
	for i := len(mws) - 1; i >= 0; i-- {
		p = mws[i](step, p)
	}
	bp := builtProcessor{step: step, proc: p}
	if m, ok := raw.(stages.Watermarker); ok {
		bp.marker = m
	}
	if f, ok := p.(stages.Flusher); ok {
		bp.flusher = f
	} else if f, ok := raw.(stages.Flusher); ok {
		bp.flusher = &guardedFlusher{guardedProcessor: &guardedProcessor{step: step, next: raw, pipeline: r.env.Pipeline}, flusher: f}
	}
	return bp
}

// Stats returns a snapshot of the counters; safe to call while running.
func (r *Runner) Stats() Stats {
	s := r.stats.snapshot()
	s.DeadLetters = r.deadLetters.snapshot()
	return s
}

// Name is the pipeline's name.
func (r *Runner) Name() string { return r.env.Pipeline }

// Run runs the pipeline until ctx ends or every source's Read returned, then
// drains: sources stop, messages in flight finish, buffering processors are
// flushed and their output written to the sinks, and every stage is closed
// (sources first, sinks last). A Runner runs once. The error joins the failures
// of sources (other than ending because ctx ended), of the final flush, of
// closing and of a drain that timed out; message failures are not errors of Run
// (they are nacked, logged and counted).
func (r *Runner) Run(ctx context.Context) error {
	if !r.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("pipeline %q: runner already ran", r.env.Pipeline)
	}
	if r.closed.Load() {
		return fmt.Errorf("pipeline %q: runner is closed", r.env.Pipeline)
	}
	defer r.Close()

	// abortCtx cancels in-flight work; only a drain that takes too long uses it.
	abortCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: r.cfg.drainTimeout},
		watermill.NewSlogLoggerWithLevelMapping(r.log.With("component", "router"), map[slog.Level]slog.Level{
			slog.LevelInfo: slog.LevelDebug, slog.LevelError: slog.LevelDebug}))
	if err != nil {
		return fmt.Errorf("pipeline %q: %w", r.env.Pipeline, err)
	}
	router.AddMiddleware(r.deliveryMiddleware)
	router.AddMiddleware(r.cfg.handlerMiddleware...)
	if r.cfg.retries > 0 {
		router.AddMiddleware(middleware.Retry{
			MaxRetries:      r.cfg.retries,
			InitialInterval: r.cfg.retryInterval,
			MaxInterval:     r.cfg.retryMaxDelay,
			Multiplier:      2,
			ShouldRetry: func(p middleware.RetryParams) bool {
				return abortCtx.Err() == nil
			},
		}.Middleware)
	}
	router.AddMiddleware(middleware.Recoverer)

	subs := make([]*sourceSubscriber, len(r.sources))
	for i, s := range r.sources {
		subs[i] = newSourceSubscriber(s.step, s.src, r.env.Pipeline, r.stats.of(s.step), ctx, abortCtx, r.cfg.inFlight)
		subs[i].tracer = r.tracer.source(s.step)
		subs[i].flushNow = r.requestFlush
		router.AddConsumerHandler(r.env.Pipeline+"/"+s.step.Path, s.step.Path, subs[i], r.handle)
	}

	routerDone := make(chan error, 1)
	go func() { routerDone <- router.Run(abortCtx) }()
	// ended: the router already returned (every source ended at once).
	ended, endErr := false, error(nil)
	select {
	case <-router.Running():
	case endErr = <-routerDone:
		select {
		case <-router.Running():
			ended = true
		default:
			abort()
			for _, s := range subs {
				_ = s.Close()
			}
			r.state.Store(int32(StateFailed))
			return fmt.Errorf("pipeline %q: start: %w", r.env.Pipeline, endErr)
		}
	}
	r.state.Store(int32(StateRunning))
	r.log.Info("pipeline running", "sources", len(r.sources), "processors", len(r.procs), "sinks", len(r.sinks))

	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go r.flushLoop(abortCtx, ctx, subs, stopTicker, tickerDone)

	var errs []error
	if !ended {
		select {
		case endErr = <-routerDone: // every source's Read returned
		case <-ctx.Done():
			r.state.Store(int32(StateDraining))
			r.log.Info("draining pipeline")
			endErr = r.awaitDrain(routerDone, router, subs, abort)
		}
	}
	r.state.Store(int32(StateDraining))
	if endErr != nil {
		errs = append(errs, endErr)
	}
	close(stopTicker)
	if err := r.awaitOrAbort(ctx, tickerDone, abort); err != nil {
		errs = append(errs, fmt.Errorf("periodic flush: %w", err))
	}

	for _, s := range subs {
		select {
		case <-s.done:
			if s.err != nil && !(ctx.Err() != nil && errors.Is(s.err, ctx.Err())) && !errors.Is(s.err, errSourceStopped) {
				errs = append(errs, &stepError{Path: s.step.Path, Err: s.err})
			}
		default:
		}
	}

	// Final flush: even after an aborted drain, buffered data gets a bounded chance.
	flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.drainTimeout)
	if err := r.flush(flushCtx, stages.FlushAll, true); err != nil {
		errs = append(errs, err)
	}
	cancelFlush()
	if n := r.releases.nackAll(errors.New("the pipeline stopped before it was written")); n > 0 {
		r.stats.nacked.Add(uint64(n))
		r.log.Warn("nacked messages whose data was not written when the pipeline stopped", "messages", n)
	}
	if err := r.Close(); err != nil {
		errs = append(errs, err)
	}
	r.log.Info("pipeline stopped", "stats", r.Stats().String())
	if len(errs) > 0 {
		r.state.Store(int32(StateFailed))
		return fmt.Errorf("pipeline %q: %w", r.env.Pipeline, errors.Join(errs...))
	}
	r.state.Store(int32(StateStopped))
	return nil
}

// awaitDrain waits for the router to finish after the run context ended:
// sources see the cancelled context and return, the router then closes itself
// once in-flight messages are done. Past the drain timeout, in-flight work is
// cancelled and the sources are cut off.
func (r *Runner) awaitDrain(routerDone <-chan error, router *message.Router, subs []*sourceSubscriber, abort context.CancelFunc) error {
	t := time.NewTimer(r.cfg.drainTimeout)
	defer t.Stop()
	select {
	case err := <-routerDone:
		return err
	case <-t.C:
	}
	r.log.Warn("drain timed out; cancelling in-flight messages", "timeout", r.cfg.drainTimeout)
	abort()
	var stuck []string
	for _, s := range subs {
		_ = s.Close()
	}
	go func() { _ = router.Close() }()
	grace := time.NewTimer(5 * time.Second)
	defer grace.Stop()
	select {
	case <-routerDone:
	case <-grace.C:
	}
	for _, s := range subs {
		if !s.wait(0) {
			stuck = append(stuck, s.step.Path)
		}
	}
	if len(stuck) > 0 {
		return fmt.Errorf("drain timed out after %s; sources still reading: %v", r.cfg.drainTimeout, stuck)
	}
	return fmt.Errorf("drain timed out after %s; in-flight messages were cancelled", r.cfg.drainTimeout)
}

// awaitOrAbort waits for done; once ctx has ended it waits at most the drain
// timeout, then cancels in-flight work and waits for done again.
func (r *Runner) awaitOrAbort(ctx context.Context, done <-chan struct{}, abort context.CancelFunc) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	t := time.NewTimer(r.cfg.drainTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	abort()
	<-done
	return fmt.Errorf("did not finish within the drain timeout of %s; cancelled", r.cfg.drainTimeout)
}

// flushLoop flushes buffering processors every flush interval: what is due
// while the pipeline runs, everything once draining starts (runCtx ended), so
// that sources waiting for their messages' data to be written get their answer
// without waiting for the stages' own deadlines (the encoder's max_age). That
// flush waits until the messages the sources handed over before the drain were
// processed (none is taken after): it then holds all their data, and a
// buffering stage emits one last block, not that block and a straggler.
func (r *Runner) flushLoop(ctx, runCtx context.Context, subs []*sourceSubscriber, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	hasFlusher := false
	for _, p := range r.procs {
		hasFlusher = hasFlusher || p.flusher != nil
	}
	if !hasFlusher {
		<-stop
		return
	}
	t := time.NewTicker(r.cfg.flushInterval)
	defer t.Stop()
	mode, draining := stages.FlushDue, runCtx.Done()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-r.flushRequests:
			_ = r.flush(ctx, stages.FlushAll, false)
		case <-draining:
			mode, draining = stages.FlushAll, nil
			for _, s := range subs {
				select {
				case <-s.quiet():
				case <-stop:
					return
				case <-ctx.Done():
					return
				}
			}
			_ = r.flush(ctx, mode, false)
		case <-t.C:
			_ = r.flush(ctx, mode, false) // flush logs its own failures
		}
	}
}

// requestFlush asks the flush loop for a complete flush (a source waits for
// every message it has in flight: the end of its input).
func (r *Runner) requestFlush() {
	select {
	case r.flushRequests <- struct{}{}:
	default: // one is pending already
	}
}

// Close closes every stage holding resources, sources first and sinks last. It
// is idempotent; Run calls it. Close a Runner that was built but never run.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		var errs []error
		for _, c := range r.closers {
			if err := safeClose(c.closer); err != nil {
				errs = append(errs, &stepError{Path: c.step.Path, Err: fmt.Errorf("close: %w", err)})
			}
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

func safeClose(c stages.Closer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return c.Close()
}
