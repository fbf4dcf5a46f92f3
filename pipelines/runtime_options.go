package pipelines

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/stages"
)

// StageMiddleware wraps one processor of a pipeline. The runtime applies every
// registered middleware to every processor when it builds a Runner; the first
// middleware given is the outermost. A middleware that wants the wrapped stage's
// Flush to keep going through it returns a value that also implements
// stages.Flusher; otherwise the runtime flushes the stage directly.
// Statistics (see StageStats) are collected by a built-in middleware that always
// runs outermost; tracing and metrics plug in here too.
type StageMiddleware func(step Step, next stages.Processor) stages.Processor

// SinkMiddleware wraps one sink of a pipeline: every Write of the runtime goes
// through it. The first middleware given is the outermost. Closing is not
// wrapped: the runtime closes the sink it built.
type SinkMiddleware func(step Step, next stages.Sink) stages.Sink

// RunnerOption configures how a Runner runs a pipeline.
type RunnerOption func(*runnerConfig)

// Runner defaults.
const (
	DefaultFlushInterval   = time.Second
	DefaultMaxRedeliveries = 3
	DefaultRetries         = 2
	DefaultRetryInterval   = 50 * time.Millisecond
	DefaultRetryMaxDelay   = time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultInFlight        = stages.DefaultWindow
)

type runnerConfig struct {
	flushInterval     time.Duration
	maxRedeliveries   int
	retries           int
	retryInterval     time.Duration
	retryMaxDelay     time.Duration
	drainTimeout      time.Duration
	inFlight          int
	stageMiddleware   []StageMiddleware
	sinkMiddleware    []SinkMiddleware
	handlerMiddleware []message.HandlerMiddleware
	tracerProvider    trace.TracerProvider // nil: no tracing (see WithTracing)
}

func defaultRunnerConfig() runnerConfig {
	return runnerConfig{
		flushInterval:   DefaultFlushInterval,
		maxRedeliveries: DefaultMaxRedeliveries,
		retries:         DefaultRetries,
		retryInterval:   DefaultRetryInterval,
		retryMaxDelay:   DefaultRetryMaxDelay,
		drainTimeout:    DefaultDrainTimeout,
		inFlight:        DefaultInFlight,
	}
}

// WithFlushInterval sets how often buffering processors (stages.Flusher) are
// flushed while the pipeline runs. Zero or less keeps the default (1s).
func WithFlushInterval(d time.Duration) RunnerOption {
	return func(c *runnerConfig) {
		if d > 0 {
			c.flushInterval = d
		}
	}
}

// WithMaxRedeliveries sets how many times a message that failed may be
// redelivered by its source before the runtime drops it (acknowledges it to the
// source and counts it as dropped). Zero drops a message on its first failure; a
// negative n never drops (the source keeps redelivering, as it decides).
func WithMaxRedeliveries(n int) RunnerOption {
	return func(c *runnerConfig) { c.maxRedeliveries = n }
}

// WithRetry sets the in-place retries of a failed message before it is nacked to
// its source: up to retries more attempts, waiting initial, then twice as long
// each time up to maxDelay. retries 0 disables in-place retries.
func WithRetry(retries int, initial, maxDelay time.Duration) RunnerOption {
	return func(c *runnerConfig) {
		if retries >= 0 {
			c.retries = retries
		}
		if initial > 0 {
			c.retryInterval = initial
		}
		if maxDelay > 0 {
			c.retryMaxDelay = maxDelay
		}
	}
}

// WithDrainTimeout bounds how long draining may take once the run context ends:
// sources must stop and in-flight messages finish within it, after which
// in-flight work is cancelled. The final flush and the closing of stages get the
// same bound again. Zero or less keeps the default (30s).
func WithDrainTimeout(d time.Duration) RunnerOption {
	return func(c *runnerConfig) {
		if d > 0 {
			c.drainTimeout = d
		}
	}
}

// WithInFlight bounds how many messages one source may have handed over and
// not yet acknowledged when it pipelines them with a stages.Window (the
// generate, file and MQTT sources do). A message is acknowledged once all its
// data was written, which behind a buffering stage can take up to its max_age:
// the bound must cover the messages a source produces in that time, or the
// source slows down to one window per max_age. Zero or less keeps the default
// (4096).
func WithInFlight(n int) RunnerOption {
	return func(c *runnerConfig) {
		if n > 0 {
			c.inFlight = n
		}
	}
}

// WithStageMiddleware adds middleware applied to every processor, after
// (inside) the ones already added.
func WithStageMiddleware(m ...StageMiddleware) RunnerOption {
	return func(c *runnerConfig) { c.stageMiddleware = append(c.stageMiddleware, m...) }
}

// WithSinkMiddleware adds middleware applied to every sink, after (inside) the
// ones already added.
func WithSinkMiddleware(m ...SinkMiddleware) RunnerOption {
	return func(c *runnerConfig) { c.sinkMiddleware = append(c.sinkMiddleware, m...) }
}

// WithHandlerMiddleware adds watermill router middleware around the handling of
// each source message (the whole processor chain and the sink writes). It runs
// inside the redelivery accounting and outside the retry and panic recovery.
func WithHandlerMiddleware(m ...message.HandlerMiddleware) RunnerOption {
	return func(c *runnerConfig) { c.handlerMiddleware = append(c.handlerMiddleware, m...) }
}
