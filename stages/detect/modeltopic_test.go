package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func TestValidateModelTopic(t *testing.T) {
	tests := []struct {
		name, topic, model, field string
	}{
		{"off", "", "", ""},
		{"topic", "edgeflow.fl.models", "", ""},
		{"topic and name", "edgeflow.fl.models", "anomaly", ""},
		{"name without topic", "", "anomaly", "model_name"},
		{"bad topic", "no spaces allowed", "", "model_topic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Model = "m.tflite"
			cfg.ModelTopic, cfg.ModelName = tc.topic, tc.model
			if got := stages.FieldOf(cfg.Validate()); got != tc.field {
				t.Errorf("Validate names field %q, want %q", got, tc.field)
			}
		})
	}
}

// TestModelTopicSwaps follows a models topic on the real broker: each newer
// version of the global model is exported and swapped in; the initial model
// (version 0), older versions and other models' records are not.
func TestModelTopicSwaps(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mlp := func(seed uint64) model.Model {
		m, err := model.NewMLP(seed, 2, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first, err := model.ExportTFLite(mlp(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "initial.tflite")
	if err := os.WriteFile(path, first, 0o644); err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("edgeflow.fl.models.detect-%d", time.Now().UnixNano())
	cfg := DefaultConfig()
	cfg.Model, cfg.ModelTopic, cfg.ModelName = path, topic, "anomaly"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := stages.Env{Node: stages.Node{ID: "edge-9", Brokers: brokers}, Pipeline: "modeltopic-test", Logger: slog.New(slog.DiscardHandler)}
	p, err := build(ctx, cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	f := p.(*ModelFollower)
	defer f.Close()

	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Key: flkafka.ModelKey, TopicConfig: flkafka.ModelsTopicConfig})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publish := func(name string, version uint64, m model.Model) {
		t.Helper()
		msg, err := (&flkafka.GlobalModel{Name: name, Round: version + 1, Version: version, Deadline: time.Now(), Model: m}).Message()
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.PublishContext(ctx, topic, msg); err != nil {
			t.Fatal(err)
		}
	}
	publish("anomaly", 0, mlp(2)) // the initial model: the file stays
	publish("other", 5, mlp(3))   // another federation's
	publish("anomaly", 2, mlp(4))
	publish("anomaly", 1, mlp(5)) // older than the one running
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("%s: not within the time limit (global version %d, detector model %+v)", what, f.GlobalVersion(), f.Model())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("version 2 swapped in", func() bool { return f.GlobalVersion() == 2 })
	publish("anomaly", 3, mlp(6))
	waitFor("version 3 swapped in", func() bool { return f.GlobalVersion() == 3 })
	if got := f.Model().Version; got != 3 { // the file, then versions 2 and 3
		t.Errorf("detector model version %d, want 3: swaps to versions 0, 1 or another model's happened", got)
	}
	want, err := model.ExportTFLite(mlp(6), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, sum := f.Model().SHA256, sha256.Sum256(want); got != hex.EncodeToString(sum[:]) {
		t.Errorf("running model %s is not the export of version 3", got)
	}
	out, err := f.Process(ctx, reading.NewMessage([]reading.Reading{
		{Stream: "humidity", Time: time.Unix(1, 0), Value: 0.5}, {Stream: "temperature", Time: time.Unix(1, 0), Value: -0.2}}))
	if err != nil || len(out) != 1 {
		t.Fatalf("Process: %d messages, %v", len(out), err)
	}
	var res Result
	if err := json.Unmarshal(out[0].Payload, &res); err != nil {
		t.Fatal(err)
	}
	if res.Model.Version != 3 || len(res.Classes) != 2 {
		t.Errorf("result of model version %d with %d classes, want version 3 and 2 classes", res.Model.Version, len(res.Classes))
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
