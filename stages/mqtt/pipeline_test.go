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
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/file"
	_ "github.com/edgeflow/edgeflow/stages/mqtt"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

// TestPipelineMQTTToFile runs mqtt → file through the pipeline runtime against
// the real broker: every published reading ends up in the file.
func TestPipelineMQTTToFile(t *testing.T) {
	brokerURL := stagetest.RequireMQTT(t)
	prefix := fmt.Sprintf("edgeflow-test/%d", rand.Int64())
	out := filepath.Join(t.TempDir(), "readings.jsonl")
	p, err := pipelines.Load("mqtt-to-file.yaml", []byte(fmt.Sprintf(`name: mqtt-to-file
sources:
  - type: mqtt
    url: %s
    topics: [%s/#]
    client_id: edgeflow-test-%d
    stream_template: "{last}"
sinks:
  - type: file
    path: %s
    fsync: never
`, brokerURL, prefix, rand.Int64(), out)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "gw-1"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()

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

	// Publish until the subscription is in place and 50 readings of "temp" arrived.
	const want = 50
	deadline := time.Now().Add(15 * time.Second)
	sent := 0
	for {
		if sent < 500 {
			payload := fmt.Sprintf(`{"ts":%d,"value":%d}`, 1767366245+sent, sent)
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: prefix + "/boiler/temp", QoS: 1, Payload: []byte(payload)}); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		data, _ := os.ReadFile(out)
		if bytes.Count(data, []byte("\n")) >= want {
			rs, err := reading.DecodePayload(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(rs); i++ {
				if rs[i].Value != rs[i-1].Value+1 || rs[i].Stream != "temp" || rs[i].Node != "gw-1" {
					t.Fatalf("reading %d after %d: %+v", i, i-1, rs[i])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d readings in the file after 15s", bytes.Count(data, []byte("\n")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pipeline did not drain within 15s")
	}
	t.Log(runner.Stats())
}
