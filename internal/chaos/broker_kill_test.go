package chaos

import (
	"fmt"
	"testing"
	"time"
)

// TestBrokerKilled SIGKILLs the Kafka broker for the outage (30 s by default)
// while the edge node ingests at a steady rate, then restarts it on its data:
// every acknowledged reading arrives, none twice after the consumer's dedupe,
// in order per stream. It measures the edge's peak RSS during the outage and the
// recovery time: from the broker being ready again until every reading
// acknowledged before that was received.
func TestBrokerKilled(t *testing.T) {
	s := chaosSettings(t)
	b := chaosBroker{port: s.kafkaPort}
	b.up(t)
	topic, node := uniqueName("chaos.broker-kill"), "chaos-broker-kill"
	edge := newEdgeNode(t, node, topic, b.addr())
	edge.start()
	got := newReceived()
	cons := startConsumer(t, b.addr(), topic, uniqueName("chaos-cloud"), node, got)

	prod := newProducer(edge.url(), s.streams, s.rate)
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() { prod.run(stop); close(produced) }()

	time.Sleep(10 * time.Second) // steady state first
	if miss := got.missing(prod.ackedBefore(time.Now().Add(-3 * time.Second))); len(miss) > 0 {
		t.Logf("before the outage %d acknowledged readings were still on their way", len(miss))
	}
	rss := sampleRSS(edge.pid)
	killedAt := time.Now()
	b.kill(t)
	time.Sleep(s.outage)
	b.up(t)
	backAt := time.Now()
	peakMiB := rss.finish()
	ackedDuringOutage := prod.acksBetween(killedAt, backAt)

	// The backlog acknowledged while Kafka was down must drain without help.
	backlog := prod.ackedBefore(backAt)
	// The backlog may take as long as the outage to drain (at least a minute): with the
	// defaults that bounds the test at ~3 min.
	drainLimit := max(time.Minute, s.outage)
	var recovery time.Duration
	var stillMissing []readingID
	for recovery < drainLimit {
		var waited time.Duration
		waited, stillMissing = got.waitFor(backlog, min(30*time.Second, drainLimit-recovery))
		recovery += waited
		if len(stillMissing) == 0 {
			break
		}
		fmt.Printf("chaos TestBrokerKilled: %.0f s after the broker came back, %d of the %d readings acknowledged before are still on their way\n",
			time.Since(backAt).Seconds(), len(stillMissing), len(backlog))
	}
	time.Sleep(10 * time.Second) // and ingest goes on as before
	close(stop)
	<-produced
	all := prod.ackedBefore(time.Time{})
	_, missing := got.waitFor(all, 30*time.Second)
	dupDropped := cons.stop()
	edge.stop()

	c := tally(prod, got, dupDropped)
	fmt.Printf("chaos TestBrokerKilled: %d readings/s over %d streams; broker down %.1f s (SIGKILL to ready; outage %s + restart); "+
		"edge acknowledged %d requests during it (max wait for an ack %.2f s, %d failed requests)\n",
		s.rate, s.streams, backAt.Sub(killedAt).Seconds(), s.outage, ackedDuringOutage, prod.maxAckWait.Seconds(), prod.failures)
	if len(stillMissing) == 0 {
		fmt.Printf("chaos TestBrokerKilled: recovery %.1f s (broker ready → all %d readings acknowledged before it received)\n",
			recovery.Seconds(), len(backlog))
	} else {
		fmt.Printf("chaos TestBrokerKilled: no recovery within %s: %d of the %d readings acknowledged before the broker came back not received\n",
			drainLimit, len(stillMissing), len(backlog))
	}
	fmt.Printf("chaos TestBrokerKilled: edge peak RSS during the outage %.1f MiB\n", peakMiB)
	if len(stillMissing) > 0 {
		t.Errorf("%d readings acknowledged before the broker came back did not arrive within %s of it", len(stillMissing), drainLimit)
	}
	if ackedDuringOutage == 0 {
		t.Errorf("the edge acknowledged nothing while Kafka was down: ingest stalled (last error: %s)", prod.lastErr)
	}
	if prod.failures > 0 {
		t.Errorf("%d requests failed (the spool should take every reading while Kafka is down); last: %s", prod.failures, prod.lastErr)
	}
	report(t, "TestBrokerKilled", c, got, missing, false)
}
