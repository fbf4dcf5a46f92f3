package pipelines

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// rt-flood: emits numbered messages through a stages.Window as fast as the
// pipeline takes them, until its context ends.
type rtFloodConfig struct{}

func (c *rtFloodConfig) Validate() error { return nil }

type rtFlood struct{}

func (rtFlood) Read(ctx context.Context, emit stages.EmitFunc) error {
	w := stages.NewWindow(ctx, emit, nil)
	for i := 0; ; i++ {
		msg := message.NewMessage(fmt.Sprintf("flood-%d", i), message.Payload(fmt.Sprint(i)))
		if err := w.Emit(ctx, msg, nil); err != nil {
			return err
		}
	}
}

func init() {
	stages.RegisterSource(stages.Info{ID: "rt-flood", Summary: "runtime test source emitting until stopped"},
		func() *rtFloodConfig { return &rtFloodConfig{} },
		func(ctx context.Context, cfg *rtFloodConfig, env stages.Env) (stages.Source, error) {
			return rtFlood{}, nil
		})
}

// TestDrainFlushesOnce: a source emitting without pause when the pipeline is
// stopped hands over nothing after the drain began, so the buffering stage
// is flushed once, with everything the source handed over, rather than once at
// the start of the drain and again for messages that slipped in behind that
// flush.
func TestDrainFlushesOnce(t *testing.T) {
	flood, _ := stages.Lookup(stages.KindSource, "rt-flood")
	for i := range 30 {
		log := &eventLog{}
		p := testPipeline("drain", nil, []*rtProcConfig{{Mode: "buffer", Name: "b", Log: log}}, []*rtSinkConfig{{Name: "s", Log: log}})
		p.Sources = []Step{{Path: "sources[0] (rt-flood)", Line: 3, Reg: flood, Config: &rtFloodConfig{}}}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(5+i%10)*time.Millisecond, cancel)
		stats, err := runPipeline(t, ctx, p, fastOpts()...)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if flushes := log.filter("flush"); len(flushes) != 1 {
			t.Fatalf("run %d: %d flushes of the buffering stage, want 1 (source handed over %d messages)", i, len(flushes), stats.Stages[0].Out)
		}
	}
}
