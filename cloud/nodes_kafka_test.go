package cloud

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

// cuttablePublisher fails every Publish once cut, like a node that lost power
// or its link: no last heartbeat gets out.
type cuttablePublisher struct {
	message.Publisher
	cut atomic.Bool
}

func (p *cuttablePublisher) Publish(topic string, msgs ...*message.Message) error {
	if p.cut.Load() {
		return errors.New("link cut")
	}
	return p.Publisher.Publish(topic, msgs...)
}

// TestNodeTrackerKafka: two edge nodes heartbeat through the real broker, the
// tracker sees both up; one goes silent and is marked down within the timeout
// plus one second.
func TestNodeTrackerKafka(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	topic := kafkatest.Topic(t)
	const interval, timeout = 300 * time.Millisecond, 1500 * time.Millisecond

	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Key: edge.HeartbeatKey})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, Start: kafkabus.StartOldest})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	type change struct {
		ev   NodeEvent
		seen time.Time
	}
	changes := make(chan change, 16)
	tr, err := NewNodeTracker(NodeTrackerConfig{Timeout: timeout,
		OnChange: func(ev NodeEvent) { changes <- change{ev, time.Now()} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := tr.Run(ctx, sub, topic); err != nil {
			t.Error(err)
		}
	}()

	links := map[string]*cuttablePublisher{}
	for _, id := range []string{"edge-a", "edge-b"} {
		links[id] = &cuttablePublisher{Publisher: pub}
		h, err := edge.NewHeartbeater(edge.HeartbeatConfig{NodeID: id, Version: "test", Interval: interval,
			Topic: topic, Publisher: links[id], Labels: map[string]string{"site": "test"},
			Sampler: &edge.ResourceSampler{DataDir: t.TempDir()}, Pipelines: func() []string { return []string{"p"} }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h.Run(ctx)
		}()
	}

	up := map[string]bool{}
	for len(up) < 2 {
		select {
		case c := <-changes:
			if !c.ev.Up {
				t.Fatalf("unexpected %+v before both nodes were up", c.ev)
			}
			up[c.ev.NodeID] = true
		case <-ctx.Done():
			t.Fatalf("only %v came up", up)
		}
	}
	for _, v := range tr.Nodes(time.Now()) {
		hb := v.Heartbeat
		if !v.Up || hb.Capacity.MilliCPU < 1000 || hb.Capacity.MemoryBytes <= 0 || hb.Capacity.DiskBytes <= 0 || len(hb.Pipelines) != 1 {
			t.Errorf("node %s: %+v", hb.NodeID, v)
		}
	}

	cutAt := time.Now()
	links["edge-b"].cut.Store(true)
	select {
	case c := <-changes:
		if c.ev.NodeID != "edge-b" || c.ev.Up {
			t.Fatalf("got %+v, want edge-b down", c.ev)
		}
		took := c.seen.Sub(cutAt)
		t.Logf("edge-b marked down %v after its last heartbeat could not be sent (timeout %v)", took, timeout)
		if took > timeout+time.Second {
			t.Fatalf("edge-b marked down after %v, want at most %v", took, timeout+time.Second)
		}
	case <-time.After(timeout + 5*time.Second):
		t.Fatal("edge-b not marked down")
	}
	snap := tr.Snapshot(time.Now())
	if _, _, up, _ := snap.Node("edge-a"); !up {
		t.Error("edge-a down in the snapshot")
	}
	if _, _, up, _ := snap.Node("edge-b"); up {
		t.Error("edge-b up in the snapshot")
	}
}
