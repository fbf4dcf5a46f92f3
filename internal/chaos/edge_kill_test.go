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
	s := chaosSettings(t)
	b := chaosBroker{port: s.kafkaPort}
	b.up(t)
	topic, node := uniqueName("chaos.edge-kill"), "chaos-edge-kill"
	edge := newEdgeNode(t, node, topic, b.addr())
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
	fmt.Printf("chaos TestEdgeKilled: %d readings/s over %d streams; edge SIGKILLed %d times, restarted after 2 s; %d requests failed while it was down\n",
		s.rate, s.streams, kills, prod.failures)
	report(t, "TestEdgeKilled", c, got, missing, false)
}
