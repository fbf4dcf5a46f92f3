package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

func TestPrintNodesTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	nodes := []cloud.NodeView{
		{Up: true, LastSeen: now.Add(-2 * time.Second), Heartbeat: fleet.Heartbeat{NodeID: "gw-1", Version: "v1",
			Labels:       map[string]string{"site": "p1", "zone": "a"},
			Capacity:     fleet.HeartbeatResources{MilliCPU: 4000, MemoryBytes: 8 << 30, DiskBytes: 100 << 30, Accelerators: 2},
			Free:         fleet.HeartbeatResources{MilliCPU: 1250, MemoryBytes: 3 << 29, DiskBytes: 50 << 30, Accelerators: 1},
			Accelerators: []fleet.Accelerator{{Kind: "npu", Count: 2}}, Pipelines: []string{"boiler", "cam"}}},
		{Up: false, LastSeen: now.Add(-time.Minute), Heartbeat: fleet.Heartbeat{NodeID: "gw-2", Version: "v1", Stopping: true,
			Capacity: fleet.HeartbeatResources{MilliCPU: 1000, MemoryBytes: 512}}},
	}
	var out bytes.Buffer
	printNodesTable(&out, nodes, now)
	want := `NODE  STATUS          LAST SEEN  CPU FREE/TOTAL  MEMORY FREE/TOTAL  DISK FREE/TOTAL   ACCEL    PIPELINES   LABELS          VERSION
gw-1  up              2s ago     1.25/4.00       1.5GiB/8.0GiB      50.0GiB/100.0GiB  1/2 npu  boiler,cam  site=p1,zone=a  v1
gw-2  down (stopped)  1m0s ago   0.00/1.00       0B/512B            0B/0B             -        -           -               v1
`
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestNodesFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad timeout", []string{"--timeout", "0s"}, "--timeout"},
		{"bad topic", []string{"--topic", "a b"}, "--topic"},
		{"argument", []string{"extra"}, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runNodes(context.Background(), tt.args, stdio{out: &out, err: &errOut})
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.want) {
				t.Fatalf("runNodes(%v) = %v, want an error naming %s", tt.args, err, tt.want)
			}
		})
	}
}

// TestNodesKafka: heartbeats of two nodes on the real broker, one of them
// stopping, are listed.
func TestNodesKafka(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	topic := kafkatest.Topic(t)
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Key: edge.HeartbeatKey})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for _, id := range []string{"gw-1", "gw-2"} {
		h, err := edge.NewHeartbeater(edge.HeartbeatConfig{NodeID: id, Version: "test", Topic: topic, Publisher: pub,
			Sampler: &edge.ResourceSampler{DataDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		hb := h.Next()
		hb.Stopping = id == "gw-2"
		if err := h.Publish(t.Context(), hb); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	err = runNodes(t.Context(), []string{"--brokers", strings.Join(brokers, ","), "--topic", topic, "--wait", "4s"},
		stdio{out: &out, err: &errOut})
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "gw-1  up ") || !strings.HasPrefix(lines[2], "gw-2  down (stopped)") {
		t.Fatalf("output:\n%s", out.String())
	}
}
