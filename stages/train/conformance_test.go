package train_test

import (
	"testing"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/stagetest"
	_ "github.com/edgeflow/edgeflow/stages/train"
)

func TestTrainConformance(t *testing.T) {
	stagetest.Run(t, stages.KindProcessor, "train", stagetest.Features{
		ValidConfig:    "features: [env.humidity, env.temperature]\nmodels_topic: edgeflow.fl.models.stagetest",
		RequiredFields: []string{"features"},
		NeedsKafka:     true,
		Buffers:        true,
		MalformedPayloads: [][]byte{
			[]byte(`{"stream":"env.humidity","ts":"2026-01-02T15:04:05Z","value":"wet"}`),
		},
	})
}
