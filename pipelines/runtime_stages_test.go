package pipelines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// Test-only stages for the runtime tests. Their configs carry the test's
// recorders in fields hidden from YAML.

// eventLog records what stages did, in order.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// filter returns the events that start with prefix.
func (l *eventLog) filter(prefix string) []string {
	var out []string
	for _, e := range l.list() {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

type ctxKey struct{}

// rt-src: emits Messages in order, then returns (or waits for ctx with Hold).
type rtSrcConfig struct {
	Messages    []string `yaml:"messages"`
	RetryOnNack bool     `yaml:"retry_on_nack"`
	Hold        bool     `yaml:"hold"`
	Name        string   `yaml:"name"`

	Log *eventLog `yaml:"-"`
	// AfterAck is called once emit returned nil for a message.
	AfterAck func(payload string) `yaml:"-"`
	// Fail makes Read fail at the end instead of returning nil.
	Fail error `yaml:"-"`
	// Stuck makes Read ignore its context at the end and wait for Stuck to close.
	Stuck chan struct{} `yaml:"-"`
}

func (c *rtSrcConfig) Validate() error { return nil }

type rtSource struct {
	cfg    *rtSrcConfig
	closed int
	mu     sync.Mutex
}

func (s *rtSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	for i, p := range s.cfg.Messages {
		msg := message.NewMessageWithContext(context.WithValue(ctx, ctxKey{}, "value-"+p), fmt.Sprintf("%s-%d", s.cfg.Name, i), message.Payload(p))
		msg.Metadata.Set(stages.MetaKind, stages.KindReadings)
		for {
			err := emit(ctx, msg)
			if err == nil {
				s.cfg.Log.add("acked %s", p)
				if s.cfg.AfterAck != nil {
					s.cfg.AfterAck(p)
				}
				break
			}
			if errors.Is(err, stages.ErrNacked) {
				s.cfg.Log.add("nacked %s", p)
				if s.cfg.RetryOnNack {
					continue // re-emit the same message: the runtime copies it
				}
				break
			}
			return err
		}
	}
	if s.cfg.Stuck != nil {
		<-s.cfg.Stuck
		return nil
	}
	if s.cfg.Hold {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.cfg.Fail
}

func (s *rtSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == 0 {
		s.cfg.Log.add("close source %s", s.cfg.Name)
	}
	s.closed++
	return nil
}

// rt-proc: Mode pass | filter (drops Arg) | fanout (Arg copies) | fail (fails
// payload Arg, FailTimes times or always if 0) | panic (on payload Arg) |
// buffer (keeps everything until Flush, which joins them with "+") | upper.
type rtProcConfig struct {
	Mode      string `yaml:"mode"`
	Arg       string `yaml:"arg"`
	FailTimes int    `yaml:"fail_times"`
	Name      string `yaml:"name"`

	Log *eventLog `yaml:"-"`
	// BuildErr makes build fail.
	BuildErr error `yaml:"-"`
}

func (c *rtProcConfig) Validate() error { return nil }

type rtProcessor struct {
	cfg    *rtProcConfig
	mu     sync.Mutex
	failed int
	buf    []string
	closed bool
}

func (p *rtProcessor) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	pl := string(msg.Payload)
	if v, _ := ctx.Value(ctxKey{}).(string); v != "" {
		p.cfg.Log.add("ctx %s %s", p.cfg.Name, v)
	}
	switch p.cfg.Mode {
	case "filter":
		if pl == p.cfg.Arg {
			return nil, nil
		}
	case "fanout":
		var out []*message.Message
		for i := 0; i < len(p.cfg.Arg); i++ {
			out = append(out, message.NewMessage(fmt.Sprintf("%s/%d", msg.UUID, i), message.Payload(fmt.Sprintf("%s#%d", pl, i))))
		}
		return out, nil
	case "fail":
		if pl == p.cfg.Arg {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.cfg.FailTimes == 0 || p.failed < p.cfg.FailTimes {
				p.failed++
				return nil, fmt.Errorf("refusing %q", pl)
			}
		}
	case "panic":
		if pl == p.cfg.Arg {
			panic("boom on " + pl)
		}
	case "buffer":
		p.buf = append(p.buf, pl)
		return nil, nil
	case "upper":
		return []*message.Message{message.NewMessage(msg.UUID, message.Payload(strings.ToUpper(pl)))}, nil
	}
	return []*message.Message{msg}, nil
}

func (p *rtProcessor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.cfg.Log.add("close processor %s", p.cfg.Name)
	}
	p.closed = true
	return nil
}

// rtBuffer is an rtProcessor that also flushes.
type rtBuffer struct{ *rtProcessor }

func (p rtBuffer) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	if len(p.buf) == 0 {
		return nil, nil
	}
	out := message.NewMessage("batch", message.Payload(strings.Join(p.buf, "+")))
	p.buf = p.buf[:0]
	p.cfg.Log.add("flush %s", p.cfg.Name)
	return []*message.Message{out}, nil
}

// rt-sink: records every message written; FailTimes first writes fail.
type rtSinkConfig struct {
	Name      string `yaml:"name"`
	FailTimes int    `yaml:"fail_times"`
	FailAll   bool   `yaml:"fail_all"`

	Log      *eventLog `yaml:"-"`
	BuildErr error     `yaml:"-"`
}

func (c *rtSinkConfig) Validate() error { return nil }

type rtSink struct {
	cfg    *rtSinkConfig
	mu     sync.Mutex
	failed int
	closed bool
}

func (s *rtSink) Write(ctx context.Context, msgs []*message.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.FailAll || s.failed < s.cfg.FailTimes {
		s.failed++
		return errors.New("sink unavailable")
	}
	for _, m := range msgs {
		v, _ := m.Context().Value(ctxKey{}).(string)
		s.cfg.Log.add("write %s %s pipeline=%s ctx=%s", s.cfg.Name, m.Payload, m.Metadata.Get(stages.MetaPipeline), v)
	}
	return nil
}

func (s *rtSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.cfg.Log.add("close sink %s", s.cfg.Name)
	}
	s.closed = true
	return nil
}

func init() {
	stages.RegisterSource(stages.Info{ID: "rt-src", Summary: "runtime test source"},
		func() *rtSrcConfig { return &rtSrcConfig{} },
		func(ctx context.Context, cfg *rtSrcConfig, env stages.Env) (stages.Source, error) {
			return &rtSource{cfg: cfg}, nil
		})
	stages.RegisterProcessor(stages.Info{ID: "rt-proc", Summary: "runtime test processor"},
		func() *rtProcConfig { return &rtProcConfig{Mode: "pass"} },
		func(ctx context.Context, cfg *rtProcConfig, env stages.Env) (stages.Processor, error) {
			if cfg.BuildErr != nil {
				return nil, cfg.BuildErr
			}
			p := &rtProcessor{cfg: cfg}
			if cfg.Mode == "buffer" {
				return rtBuffer{p}, nil
			}
			return p, nil
		})
	stages.RegisterSink(stages.Info{ID: "rt-sink", Summary: "runtime test sink"},
		func() *rtSinkConfig { return &rtSinkConfig{} },
		func(ctx context.Context, cfg *rtSinkConfig, env stages.Env) (stages.Sink, error) {
			if cfg.BuildErr != nil {
				return nil, cfg.BuildErr
			}
			return &rtSink{cfg: cfg}, nil
		})
}

// testPipeline builds a *Pipeline by hand from configs of the rt-* stages.
func testPipeline(name string, srcs []*rtSrcConfig, procs []*rtProcConfig, sinks []*rtSinkConfig) *Pipeline {
	p := &Pipeline{File: name + ".yaml", Name: name}
	reg := func(kind stages.Kind, id string) *stages.Registration {
		r, ok := stages.Lookup(kind, id)
		if !ok {
			panic("missing test stage " + id)
		}
		return r
	}
	for i, c := range srcs {
		p.Sources = append(p.Sources, Step{Path: fmt.Sprintf("sources[%d] (rt-src)", i), Line: 3 + i, Reg: reg(stages.KindSource, "rt-src"), Config: c})
	}
	for i, c := range procs {
		p.Stages = append(p.Stages, Step{Path: fmt.Sprintf("stages[%d] (rt-proc)", i), Line: 10 + i, Reg: reg(stages.KindProcessor, "rt-proc"), Config: c})
	}
	for i, c := range sinks {
		p.Sinks = append(p.Sinks, Step{Path: fmt.Sprintf("sinks[%d] (rt-sink)", i), Line: 20 + i, Reg: reg(stages.KindSink, "rt-sink"), Config: c})
	}
	return p
}
