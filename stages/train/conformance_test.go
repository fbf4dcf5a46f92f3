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
		// Following the models topic starts with the first Flush; kafka-go's
		// shared default transport keeps its connection pool afterwards.
		IgnoreGoroutines: []string{
			"github.com/segmentio/kafka-go.(*conn).run",
			"github.com/segmentio/kafka-go.(*connPool).discover",
		},
		MalformedPayloads: [][]byte{
			[]byte(`{"stream":"env.humidity","ts":"2026-01-02T15:04:05Z","value":"wet"}`),
		},
	})
}
