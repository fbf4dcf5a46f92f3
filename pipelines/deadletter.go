package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
)

// This file: dead letters — inputs that cannot be parsed, moved out of the way
// with the reason in their metadata, so the rest of the stream keeps flowing.
//
// Sources hand a bad line, body or payload to stages.Env.DeadLetter (the runtime
// sets Env.DeadLetters per step); a processor returns a stages.Malformed error
// and the runtime's middleware dead-letters its input message and acknowledges
// it. Either way the message goes to the pipeline's dead_letter: sink, or, with
// none configured, is logged and dropped. Every dead letter is counted per step
// (Stats.DeadLetters, edgeflow_dead_letter_total).

// DefaultDeadLetterTopic is the topic of a dead_letter: kafka sink that names none.
const DefaultDeadLetterTopic = "edgeflow.deadletter"

// deadLetterSection is the top-level key of the dead-letter sink in a pipeline file.
const deadLetterSection = "dead_letter"

// deadLetter resolves the dead_letter: entry, one sink. A kafka sink without a
// topic writes to DefaultDeadLetterTopic rather than the frames topic.
func (l *loader) deadLetter(v *yaml.Node) *Step {
	v = deref(v)
	if v.Kind == yaml.MappingNode {
		typ, hasTopic := "", false
		for j := 0; j+1 < len(v.Content); j += 2 {
			switch k := deref(v.Content[j]); k.Value {
			case "type":
				typ = deref(v.Content[j+1]).Value
			case "topic":
				hasTopic = true
			}
		}
		if typ == "kafka" && !hasTopic {
			c := *v
			c.Content = append(append([]*yaml.Node(nil), v.Content...),
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "topic", Line: v.Line, Column: v.Column},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: DefaultDeadLetterTopic, Line: v.Line, Column: v.Column})
			v = &c
		}
	}
	step := l.step(deadLetterSection, stages.KindSink, 0, v)
	if step == nil {
		return nil
	}
	step.Path = fmt.Sprintf("%s (%s)", deadLetterSection, step.Reg.ID)
	if len(step.Reg.Consumes) > 0 {
		// A sink that refuses some payloads would refuse dead letters forever
		// and hold up the inputs waiting for them.
		l.errorf(step.Line, step.Path, "sink %q takes only %s payloads; a dead-letter sink must take any payload as received (kafka does)",
			step.Reg.ID, strings.Join(step.Reg.Consumes, "|"))
		return nil
	}
	return step
}

// DeadLetterStats counts the dead letters of one step.
type DeadLetterStats struct {
	Path  string // the step that gave up on the inputs: "sources[0] (file)"
	Count uint64
}

// deadLetterRoute is a Runner's dead-letter destination and counters.
type deadLetterRoute struct {
	pipeline string
	node     string
	log      *slog.Logger
	retries  int
	backoff  time.Duration
	step     Step        // the dead_letter: step; zero without one
	sink     stages.Sink // nil: dead letters are logged and dropped

	writeMu sync.Mutex // sinks need not be safe for concurrent writes
	mu      sync.Mutex
	counts  map[string]*atomic.Uint64 // by step path
}

func newDeadLetterRoute(r *Runner) *deadLetterRoute {
	return &deadLetterRoute{pipeline: r.env.Pipeline, node: r.env.Node.ID, log: r.log,
		retries: r.cfg.retries, backoff: r.cfg.retryInterval, counts: map[string]*atomic.Uint64{}}
}

// buildDeadLetter builds the pipeline's dead_letter: sink, if any, with build,
// and makes the route every step's Env gets (stepEnv).
func (r *Runner) buildDeadLetter(build func(Step, stages.Kind) (any, error)) (Step, error) {
	r.deadLetters = newDeadLetterRoute(r)
	if r.p.DeadLetter == nil {
		return Step{}, nil
	}
	step := *r.p.DeadLetter
	step.Pipeline = r.env.Pipeline
	v, err := build(step, stages.KindSink)
	if err != nil {
		return step, err
	}
	s, ok := v.(stages.Sink)
	if !ok {
		return step, fmt.Errorf("stage %q built a %T, not a sink", step.Reg.ID, v)
	}
	r.deadLetters.step, r.deadLetters.sink = step, s
	return step, nil
}

// stepEnv is the Env the stage of step is built with: the Runner's, with the
// dead-letter route naming step.
func (r *Runner) stepEnv(step Step) stages.Env {
	env := r.env
	if d := r.deadLetters; d != nil {
		env.DeadLetters = func(ctx context.Context, msg *message.Message, reason error) error {
			return d.send(ctx, step.Path, msg, reason)
		}
	}
	return env
}

// send writes msg, with reason and where it failed in its metadata, to the
// dead-letter sink, retrying in place like the runtime's sink writes. Without
// a sink it logs. The count goes up once msg is safe.
func (d *deadLetterRoute) send(ctx context.Context, stepPath string, msg *message.Message, reason error) error {
	dl := deadLetterMessage(msg, reason, stepPath, d.pipeline, d.node)
	if d.sink == nil {
		d.log.Warn("input cannot be parsed; dropped (no dead_letter: sink)", "step", stepPath,
			"source", dl.Metadata.Get(stages.MetaSource), "bytes", len(dl.Payload), "error", reason)
		d.counter(stepPath).Add(1)
		return nil
	}
	wait := d.backoff
	for attempt := 0; ; attempt++ {
		d.writeMu.Lock()
		err := d.sink.Write(ctx, []*message.Message{dl})
		d.writeMu.Unlock()
		if err == nil {
			break
		}
		if attempt >= d.retries || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", d.step.Path, err)
		}
		if err := stages.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", d.step.Path, err)
		}
		wait = min(2*wait, time.Second)
	}
	d.log.Info("input cannot be parsed; sent to the dead-letter sink", "step", stepPath,
		"to", d.step.Path, "source", dl.Metadata.Get(stages.MetaSource), "error", reason)
	d.counter(stepPath).Add(1)
	return nil
}

func (d *deadLetterRoute) counter(path string) *atomic.Uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.counts[path]
	if c == nil {
		c = new(atomic.Uint64)
		d.counts[path] = c
	}
	return c
}

// snapshot lists the counts by step path.
func (d *deadLetterRoute) snapshot() []DeadLetterStats {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DeadLetterStats, 0, len(d.counts))
	for p, c := range d.counts {
		out = append(out, DeadLetterStats{Path: p, Count: c.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// deadLetterMessage is the message a dead-letter sink gets: msg's payload and
// metadata, plus the reason, the step, and the pipeline and node when msg
// lacks them. It keeps msg's UUID (a fresh one when msg has none), so a
// redelivered input dead-lettered twice can be told.
func deadLetterMessage(msg *message.Message, reason error, stepPath, pipeline, node string) *message.Message {
	uuid := msg.UUID
	if uuid == "" {
		uuid = watermill.NewUUID()
	}
	dl := message.NewMessage(uuid, msg.Payload)
	for k, v := range msg.Metadata {
		dl.Metadata.Set(k, v)
	}
	dl.Metadata.Set(stages.MetaError, reason.Error())
	dl.Metadata.Set(stages.MetaErrorStep, stepPath)
	if dl.Metadata.Get(stages.MetaPipeline) == "" && pipeline != "" {
		dl.Metadata.Set(stages.MetaPipeline, pipeline)
	}
	if dl.Metadata.Get(stages.MetaNode) == "" && node != "" {
		dl.Metadata.Set(stages.MetaNode, node)
	}
	dl.SetContext(msg.Context())
	return dl
}

// wrapDeadLetters wraps a processor so that a stages.Malformed error moves
// its input message to the dead-letter route and acknowledges it (no output);
// if the route fails, the original error stands and the message is nacked.
func (r *Runner) wrapDeadLetters(step Step, p stages.Processor) stages.Processor {
	dp := &deadLetterProcessor{step: step, next: p, route: r.deadLetters}
	if f, ok := p.(stages.Flusher); ok {
		return &deadLetterFlusher{deadLetterProcessor: dp, flusher: f}
	}
	return dp
}

type deadLetterProcessor struct {
	step  Step
	next  stages.Processor
	route *deadLetterRoute
}

func (p *deadLetterProcessor) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	out, err := p.next.Process(ctx, msg)
	if err == nil || !stages.IsMalformed(err) || p.route == nil {
		return out, err
	}
	if derr := p.route.send(ctx, p.step.Path, msg, err); derr != nil {
		return nil, fmt.Errorf("%w; dead letter not written: %v", err, derr)
	}
	return nil, nil
}

// deadLetterFlusher keeps the wrapped stage's Flush reachable. Flushed output
// has no input message to dead-letter, so Flush passes straight through.
type deadLetterFlusher struct {
	*deadLetterProcessor
	flusher stages.Flusher
}

func (f *deadLetterFlusher) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	return f.flusher.Flush(ctx, mode)
}

var (
	_ stages.Processor = (*deadLetterProcessor)(nil)
	_ stages.Flusher   = (*deadLetterFlusher)(nil)
)
