package stagetest

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// IDs of the helper stages this package registers so that a stage under test
// can be loaded inside a complete pipeline.
const (
	ReadingsSourceID = "stagetest-readings" // a source producing readings
	FramesSourceID   = "stagetest-frames"   // a source producing frames
	SinkID           = "stagetest-sink"     // a sink accepting anything
)

// helperConfig is the (empty) config of the helper stages.
type helperConfig struct{}

func (*helperConfig) Validate() error { return nil }

type emptySource struct{}

func (emptySource) Read(ctx context.Context, emit stages.EmitFunc) error { return nil }

type discardSink struct{}

func (discardSink) Write(ctx context.Context, msgs []*message.Message) error { return nil }

func init() {
	newConfig := func() *helperConfig { return &helperConfig{} }
	source := func(ctx context.Context, _ *helperConfig, _ stages.Env) (stages.Source, error) {
		return emptySource{}, nil
	}
	stages.RegisterSource(stages.Info{ID: ReadingsSourceID, Summary: "conformance-test source producing readings",
		Produces: []string{stages.KindReadings}}, newConfig, source)
	stages.RegisterSource(stages.Info{ID: FramesSourceID, Summary: "conformance-test source producing frames",
		Produces: []string{stages.KindFrame}}, newConfig, source)
	stages.RegisterSink(stages.Info{ID: SinkID, Summary: "conformance-test sink discarding everything"},
		newConfig, func(ctx context.Context, _ *helperConfig, _ stages.Env) (stages.Sink, error) {
			return discardSink{}, nil
		})
}
