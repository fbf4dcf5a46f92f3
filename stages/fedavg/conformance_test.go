package fedavg_test

import (
	"testing"

	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/fedavg"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestFedAvgConformance(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "fedavg", stagetest.Features{
		ValidConfig:    "layers: [2, 8, 2]\nmodels_topic: edgeflow.fl.models.stagetest\nupdates_topic: edgeflow.fl.updates.stagetest\nheartbeat_topic: edgeflow.heartbeats.stagetest",
		RequiredFields: []string{"layers"},
		NeedsKafka:     true,
	})
}
