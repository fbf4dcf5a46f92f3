package mqtt_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/kafka"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

// Payloads that do not parse, published on the real Mosquitto, land in a real
// Kafka dead-letter topic with their topic and reason; the good readings
// around them keep flowing to the sink.
func TestPipelineMQTTDeadLetters(t *testing.T) {
	brokerURL := stagetest.RequireMQTT(t)
	brokers := kafkatest.Brokers(t)
	dlTopic := kafkatest.Topic(t)
	prefix := fmt.Sprintf("edgeflow-test/%d", rand.Int64())
	out := filepath.Join(t.TempDir(), "readings.jsonl")
	p, err := pipelines.Load("mqtt-dl.yaml", []byte(fmt.Sprintf(`name: mqtt-dl
sources:
  - type: mqtt
    url: %s
    topics: [%s/#]
    client_id: edgeflow-test-%d
    stream_template: "{last}"
sinks:
  - {type: file, path: %s, fsync: never}
dead_letter: {type: kafka, topic: %s}
`, brokerURL, prefix, rand.Int64(), out, dlTopic)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	runner, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "gw-1", Brokers: brokers}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()

	u, _ := url.Parse(brokerURL)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pub := paho.NewClient(paho.ClientConfig{Conn: conn})
	if _, err := pub.Connect(ctx, &paho.Connect{ClientID: fmt.Sprintf("edgeflow-test-pub-%d", rand.Int64()), CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(&paho.Disconnect{})
	publish := func(payload string) {
		t.Helper()
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: prefix + "/boiler/temp", QoS: 1, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	lines := func() int {
		data, _ := os.ReadFile(out)
		return bytes.Count(data, []byte("\n"))
	}
	// Good readings until the subscription is in place.
	for sent := 0; lines() == 0; sent++ {
		if ctx.Err() != nil {
			t.Fatal("no reading arrived")
		}
		publish(fmt.Sprintf(`{"ts":%d,"value":%d}`, 1767366245+sent, sent))
		time.Sleep(50 * time.Millisecond)
	}
	before := lines()
	bad := []string{"oops", `{"ts":1767366245,"value":"warm"}`, `[{"ts":`}
	for i, b := range bad {
		publish(b)
		publish(fmt.Sprintf(`{"ts":%d,"value":%d}`, 1767400000+i, i))
	}
	for lines() < before+len(bad) {
		if ctx.Err() != nil {
			t.Fatalf("%d readings after the bad payloads, want %d", lines()-before, len(bad))
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, dlTopic)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bad {
		select {
		case m := <-msgs:
			m.Ack()
			md := m.Metadata
			if string(m.Payload) != b || md.Get(stages.MetaSource) != "mqtt "+prefix+"/boiler/temp" ||
				md.Get(stages.MetaErrorStep) != "sources[0] (mqtt)" || md.Get(stages.MetaError) == "" || md.Get(stages.MetaNode) != "gw-1" {
				t.Errorf("dead letter %d: %q with %v; want %q from the topic", i, m.Payload, md, b)
			}
		case <-ctx.Done():
			t.Fatalf("dead letter %d of %d not in %s", i, len(bad), dlTopic)
		}
	}
	if d := runner.Stats().DeadLetters; len(d) != 1 || d[0].Count != uint64(len(bad)) || !strings.Contains(d[0].Path, "mqtt") {
		t.Errorf("Stats.DeadLetters = %+v", d)
	}
}
