package stagetest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

// scaleConfig configures a small processor that multiplies reading values.
type scaleConfig struct {
	Factor float64       `yaml:"factor" doc:"Multiply each value by this." example:"2"`
	Mode   string        `yaml:"mode" doc:"How to round." enum:"none|floor" example:"floor"`
	Every  time.Duration `yaml:"every" doc:"How often to log a count."`
}

func (c *scaleConfig) Validate() error {
	if c.Factor == 0 {
		return stages.FieldErrorf("factor", "factor must not be 0")
	}
	if c.Mode != "none" && c.Mode != "floor" {
		return stages.FieldErrorf("mode", "mode %q unknown (want none|floor)", c.Mode)
	}
	return nil
}

type scaler struct {
	cfg  scaleConfig
	stop chan struct{}
	once sync.Once
	done sync.WaitGroup
}

func (s *scaler) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(msg.Payload))
	for sc.Scan() {
		var r reading.Reading
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("scale: %w", err)
		}
		r.Value *= s.cfg.Factor
		out.Write(reading.AppendJSON(nil, r))
		out.WriteByte('\n')
	}
	return []*message.Message{message.NewMessage(msg.UUID, out.Bytes())}, nil
}

func (s *scaler) Close() error {
	s.once.Do(func() { close(s.stop) })
	s.done.Wait()
	return nil
}

// tickSource emits nothing until its context ends.
type tickSource struct{}

func (tickSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	<-ctx.Done()
	return ctx.Err()
}

type tickConfig struct {
	Topic string `yaml:"topic" doc:"Where to read from." required:"true" example:"t"`
}

func (c *tickConfig) Validate() error {
	if c.Topic == "" {
		return stages.FieldErrorf("topic", "topic is required")
	}
	return nil
}

func init() {
	stages.RegisterProcessor(stages.Info{
		ID: "selftest-scale", Summary: "multiply values", Description: "Multiplies every reading's value.",
		Consumes: []string{stages.KindReadings}, Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "canonical", YAML: "type: selftest-scale\nfactor: 2\n"},
			{Title: "ID as key", YAML: "selftest-scale:\n  factor: 3\n  mode: floor\n"},
			{Title: "list item", YAML: "- type: selftest-scale\n  every: 5s\n"},
		},
	}, func() *scaleConfig { return &scaleConfig{Factor: 1, Mode: "none", Every: time.Minute} },
		func(ctx context.Context, cfg *scaleConfig, env stages.Env) (stages.Processor, error) {
			s := &scaler{cfg: *cfg, stop: make(chan struct{})}
			s.done.Add(1)
			go func() { defer s.done.Done(); <-s.stop }()
			return s, nil
		})
	stages.RegisterSource(stages.Info{
		ID: "selftest-tick", Summary: "wait", Description: "Waits for its context to end.",
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{{Title: "topic", YAML: "topic: x\n"}},
	}, func() *tickConfig { return &tickConfig{} },
		func(ctx context.Context, cfg *tickConfig, env stages.Env) (stages.Source, error) {
			return tickSource{}, nil
		})
}

func TestConformanceProcessor(t *testing.T) {
	stagetest.Run(t, stages.KindProcessor, "selftest-scale", stagetest.Features{})
}

func TestConformanceSource(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "selftest-tick", stagetest.Features{
		RequiredFields: []string{"topic"},
		ValidConfig:    "topic: readings",
	})
}

func TestConformanceHelperSink(t *testing.T) {
	if _, ok := stages.Lookup(stages.KindSink, stagetest.SinkID); !ok {
		t.Fatalf("helper sink %q not registered", stagetest.SinkID)
	}
}

// skippedBy runs fn in a subtest and reports whether it skipped.
func skippedBy(t *testing.T, fn func(t *testing.T)) bool {
	t.Helper()
	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		fn(t)
	})
	return skipped
}

func TestUnavailableServicesSkipOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(stagetest.EnvKafkaBrokers, "127.0.0.1:1")
	t.Setenv(stagetest.EnvMQTTURL, "tcp://127.0.0.1:1")
	if !skippedBy(t, func(t *testing.T) { stagetest.RequireKafka(t) }) {
		t.Error("RequireKafka did not skip with no broker")
	}
	if !skippedBy(t, func(t *testing.T) { stagetest.RequireMQTT(t) }) {
		t.Error("RequireMQTT did not skip with no broker")
	}
	if !skippedBy(t, func(t *testing.T) { stagetest.SharedFile(t, "no/such/file.csv") }) {
		t.Error("SharedFile did not skip for a missing file")
	}
}

func TestServiceAddresses(t *testing.T) {
	t.Setenv(stagetest.EnvKafkaBrokers, " a:1, b:2 ,")
	if got := stagetest.KafkaBrokers(); len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Errorf("KafkaBrokers() = %q", got)
	}
	t.Setenv(stagetest.EnvKafkaBrokers, "")
	if got := stagetest.KafkaBrokers(); len(got) != 1 || got[0] != "127.0.0.1:9092" {
		t.Errorf("default KafkaBrokers() = %q", got)
	}
	t.Setenv(stagetest.EnvMQTTURL, "")
	if got := stagetest.MQTTURL(); got != "tcp://127.0.0.1:1883" {
		t.Errorf("default MQTTURL() = %q", got)
	}
}
