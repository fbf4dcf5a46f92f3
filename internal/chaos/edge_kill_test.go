package chaos

import (
	"fmt"
	"testing"
	"time"
)

// TestEdgeKilled SIGKILLs the edge node mid-stream and starts it again on the
// same data directory: every reading acknowledged to the producer before the
// kill (in the spool, not yet in Kafka) or after the restart arrives, in order
// per stream; what the spool sends twice is dropped by the consumer's dedupe
// (sequence numbers survive the restart).
func TestEdgeKilled(t *testing.T) {
	edgeKill(t, "TestEdgeKilled", 0)
}

// TestEdgeKilledBetweenWriteAndDelete is TestEdgeKilled with the spool's
// forwarder pausing 300 ms between a batch's write to Kafka and its deletion
// from the spool (EDGEFLOW_SPOOL_DELETE_DELAY, honoured by the test binary
// only), so that the kills land inside that window: the batches Kafka already
// had are sent again after the restart. The consumer must drop them as
// duplicates (at least one frame), and nothing may be lost or left twice.
func TestEdgeKilledBetweenWriteAndDelete(t *testing.T) {
	dupDropped := edgeKill(t, "TestEdgeKilledBetweenWriteAndDelete", 300*time.Millisecond)
	if dupDropped == 0 {
		t.Errorf("no duplicate frame dropped by the consumer: the kills missed the window between write and delete")
	}
}

// edgeKill runs the edge-kill scenario and returns the frames the consumer
// dropped as duplicates.
func edgeKill(t *testing.T, name string, deleteDelay time.Duration) int {
	s := chaosSettings(t)
	b := chaosBroker{port: s.kafkaPort}
	b.up(t)
	topic, node := uniqueName("chaos.edge-kill"), "chaos-edge-kill"
	edge := newEdgeNode(t, node, topic, b.addr())
	if deleteDelay > 0 {
		edge.env = append(edge.env, "EDGEFLOW_SPOOL_DELETE_DELAY="+deleteDelay.String())
	}
	edge.start()
	got := newReceived()
	cons := startConsumer(t, b.addr(), topic, uniqueName("chaos-cloud"), node, got)

	prod := newProducer(edge.url(), s.streams, s.rate)
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() { prod.run(stop); close(produced) }()

	const kills = 2
	for range kills {
		time.Sleep(8 * time.Second)
		edge.kill()
		time.Sleep(2 * time.Second)
		edge.start()
	}
	time.Sleep(8 * time.Second)
	close(stop)
	<-produced
	all := prod.ackedBefore(time.Time{})
	_, missing := got.waitFor(all, time.Minute)
	dupDropped := cons.stop()
	edge.stop()

	c := tally(prod, got, dupDropped)
	fmt.Printf("chaos %s: %d readings/s over %d streams; edge SIGKILLed %d times, restarted after 2 s; %d requests failed while it was down; spool delete delay %s\n",
		name, s.rate, s.streams, kills, prod.failures, deleteDelay)
	report(t, name, c, got, missing, false)
	return dupDropped
}
