package spool

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// Sink is a stages.Sink whose Write returns once the messages are durable in
// a Spool; the spool's forwarder writes them to the wrapped sink.
type Sink struct {
	spool *Spool
	next  stages.Sink
}

// NewSink opens the spool at path in front of next; see Open. When next is a
// LinkProber and opts has no LinkProbe, the spool probes through next.
func NewSink(path string, cfg Config, next stages.Sink, opts Options) (*Sink, error) {
	if p, ok := next.(LinkProber); ok && opts.LinkProbe == nil {
		opts.LinkProbe = p.ProbeLink
	}
	s, err := Open(path, cfg, next, opts)
	if err != nil {
		return nil, err
	}
	return &Sink{spool: s, next: next}, nil
}

// Write appends msgs to the spool (see Spool.Append).
func (s *Sink) Write(ctx context.Context, msgs []*message.Message) error {
	return s.spool.Append(ctx, msgs)
}

// Spool is the spool in front of the wrapped sink.
func (s *Sink) Spool() *Spool { return s.spool }

// Unwrap returns the wrapped sink.
func (s *Sink) Unwrap() stages.Sink { return s.next }

// Close closes the spool, letting it drain into the wrapped sink for a while
// (see Spool.Close). It does not close the wrapped sink: close that after. It
// is idempotent.
func (s *Sink) Close() error { return s.spool.Close() }

var (
	_ stages.Sink   = (*Sink)(nil)
	_ stages.Closer = (*Sink)(nil)
)
