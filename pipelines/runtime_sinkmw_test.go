package pipelines

import (
	"context"
	"slices"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// sinkFunc adapts a function to stages.Sink.
type sinkFunc func(ctx context.Context, msgs []*message.Message) error

func (f sinkFunc) Write(ctx context.Context, msgs []*message.Message) error { return f(ctx, msgs) }

func TestSinkMiddlewareOrder(t *testing.T) {
	log := &eventLog{}
	named := func(name string) SinkMiddleware {
		return func(step Step, next stages.Sink) stages.Sink {
			return sinkFunc(func(ctx context.Context, msgs []*message.Message) error {
				log.add("%s %s", name, step.Path)
				return next.Write(ctx, msgs)
			})
		}
	}
	p := testPipeline("sinkmw", []*rtSrcConfig{{Name: "s", Messages: []string{"a"}, Log: log}}, nil,
		[]*rtSinkConfig{{Name: "k", Log: log}})
	_, err := runPipeline(t, context.Background(), p,
		fastOpts(WithSinkMiddleware(named("outer"), named("middle")), WithSinkMiddleware(named("inner")))...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log.list() {
		if e == "outer sinks[0] (rt-sink)" || e == "middle sinks[0] (rt-sink)" || e == "inner sinks[0] (rt-sink)" ||
			len(e) > 7 && e[:7] == "write k" {
			got = append(got, e[:5])
		}
	}
	want := []string{"outer", "middl", "inner", "write"}
	if !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v (first given outermost, then the sink)", got, want)
	}
}
