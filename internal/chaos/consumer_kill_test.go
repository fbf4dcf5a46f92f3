package chaos

import (
	"fmt"
	"testing"
	"time"
)

// TestConsumerKilled SIGKILLs the cloud consumer (edgeflow tail in a consumer
// group) while readings flow and starts it again in the same group: it resumes
// from the group's committed offsets and nothing acknowledged is lost. What was
// printed but not yet committed is printed again by the new process (whose
// dedupe starts empty): that is at-least-once, counted, not a failure.
func TestConsumerKilled(t *testing.T) {
	s := chaosSettings(t)
	b := chaosBroker{port: s.kafkaPort}
	b.up(t)
	topic, node, group := uniqueName("chaos.consumer-kill"), "chaos-consumer-kill", uniqueName("chaos-cloud")
	edge := newEdgeNode(t, node, topic, b.addr())
	edge.start()
	got := newReceived()
	cons := startConsumer(t, b.addr(), topic, group, node, got)

	prod := newProducer(edge.url(), s.streams, s.rate)
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() { prod.run(stop); close(produced) }()

	time.Sleep(8 * time.Second)
	cons.kill()
	before := tally(prod, got, 0).unique
	time.Sleep(5 * time.Second) // readings pile up in Kafka meanwhile
	cons = startConsumer(t, b.addr(), topic, group, node, got)
	time.Sleep(8 * time.Second)
	close(stop)
	<-produced
	all := prod.ackedBefore(time.Time{})
	_, missing := got.waitFor(all, time.Minute)
	dupDropped := cons.stop()
	edge.stop()

	c := tally(prod, got, dupDropped)
	fmt.Printf("chaos TestConsumerKilled: %d readings/s over %d streams; consumer SIGKILLed after %d readings, restarted in group %s after 5 s; "+
		"%d readings printed again by the restarted consumer (after its last commit)\n",
		s.rate, s.streams, before, group, c.dupLeft)
	report(t, "TestConsumerKilled", c, got, missing, true)
}
