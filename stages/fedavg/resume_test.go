package fedavg

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/stages"
)

// TestResumeFromModelsTopic restarts a coordinator on a models topic that
// holds round 5 (version 4) of its model: it continues with round 6, and
// with rounds: 5 it only republishes that model as the final one.
func TestResumeFromModelsTopic(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sfx := fmt.Sprint(time.Now().UnixNano())
	modelsTopic := "edgeflow.fl.models.resume-" + sfx
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Key: flkafka.ModelKey, TopicConfig: flkafka.ModelsTopicConfig})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	saved, err := model.NewMLP(7, 2, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*flkafka.GlobalModel{
		{Name: "other", Round: 9, Version: 9, Selected: []string{"edge-1"}, Deadline: time.Now(), Model: saved},
		{Name: "m", Round: 4, Version: 3, Selected: []string{"edge-1"}, Deadline: time.Now(), Model: saved},
		{Name: "m", Round: 5, Version: 4, Selected: []string{"edge-1"}, Deadline: time.Now(), Model: saved},
	} {
		msg, err := g.Message()
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.PublishContext(ctx, modelsTopic, msg); err != nil {
			t.Fatal(err)
		}
	}
	run := func(layers []int) error {
		cfg := DefaultConfig()
		cfg.ModelName, cfg.Layers, cfg.Rounds = "m", layers, 5
		cfg.Clients, cfg.HeartbeatTopic = []string{"edge-1"}, ""
		cfg.ModelsTopic, cfg.UpdatesTopic = modelsTopic, "edgeflow.fl.updates.resume-"+sfx
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		src, err := build(ctx, cfg, stages.Env{Node: stages.Node{ID: "cloud-1", Brokers: brokers}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer src.(*Coordinator).Close()
		return src.Read(ctx, func(context.Context, *message.Message) error { return nil })
	}
	if err := run([]int{2, 4, 2}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	g, err := flkafka.LatestModel(ctx, brokers, modelsTopic, "m")
	if err != nil || g == nil {
		t.Fatalf("LatestModel: %v, %v", g, err)
	}
	if g.Round != 6 || g.Version != 4 || len(g.Selected) != 0 || !slices.Equal(g.Model.Params, saved.Params) {
		t.Errorf("final model: round %d version %d selected %v; want round 6, version 4, none selected, the saved parameters", g.Round, g.Version, g.Selected)
	}
	if err := run([]int{2, 8, 2}); stages.FieldOf(err) != "layers" {
		t.Errorf("resuming with other layers: %v; want an error naming layers", err)
	}
	if g, err := flkafka.LatestModel(ctx, brokers, "edgeflow.fl.models.none-"+sfx, "m"); g != nil || err != nil {
		t.Errorf("LatestModel of a missing topic: %v, %v; want nil, nil", g, err)
	}
}
