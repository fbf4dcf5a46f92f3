package pipelines

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// guardedProcessor is the innermost wrapper of every processor: a panic becomes
// an error, outputs without a context of their own get the input's, and outputs
// carry MetaPipeline.
type guardedProcessor struct {
	step     Step
	next     stages.Processor
	pipeline string
}

func (g *guardedProcessor) Process(ctx context.Context, msg *message.Message) (out []*message.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &stepError{Path: g.step.Path, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	out, err = g.next.Process(ctx, msg)
	if err != nil {
		return nil, err
	}
	return g.finish(msg.Context(), out), nil
}

func (g *guardedProcessor) finish(ctx context.Context, out []*message.Message) []*message.Message {
	kept := out[:0]
	for _, m := range out {
		if m == nil {
			continue
		}
		kept = append(kept, m)
		if m.Context() == context.Background() && ctx != nil {
			m.SetContext(ctx)
		}
		if m.Metadata == nil {
			m.Metadata = message.Metadata{}
		}
		if m.Metadata.Get(stages.MetaPipeline) == "" {
			m.Metadata.Set(stages.MetaPipeline, g.pipeline)
		}
	}
	return kept
}

type guardedFlusher struct {
	*guardedProcessor
	flusher stages.Flusher
}

func (g *guardedFlusher) Flush(ctx context.Context, mode stages.FlushMode) (out []*message.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &stepError{Path: g.step.Path, Err: fmt.Errorf("panic in flush: %v", p)}
		}
	}()
	out, err = g.flusher.Flush(ctx, mode)
	if err != nil {
		return nil, err
	}
	return g.finish(ctx, out), nil
}
