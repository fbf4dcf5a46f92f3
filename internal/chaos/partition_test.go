package chaos

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestPartitionHealed cuts the network between the edge node and Kafka (a TCP
// proxy that stops forwarding: packets lost, connections left open) for 20 s
// and heals it: the edge keeps acknowledging its producer throughout (no
// stall), and recovers without a restart: every reading arrives, in order.
func TestPartitionHealed(t *testing.T) {
	s := chaosSettings(t)
	b := chaosBroker{port: s.kafkaPort}
	b.up(t)
	proxy := startProxy(t, b.proxyAddr(), b.proxiedAddr())
	topic, node := uniqueName("chaos.partition"), "chaos-partition"
	edge := newEdgeNode(t, node, topic, b.proxyAddr()) // the edge reaches Kafka only through the proxy
	edge.start()
	got := newReceived()
	cons := startConsumer(t, b.addr(), topic, uniqueName("chaos-cloud"), node, got) // the cloud side is not cut

	prod := newProducer(edge.url(), s.streams, s.rate)
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() { prod.run(stop); close(produced) }()

	time.Sleep(8 * time.Second)
	const partition = 20 * time.Second
	cutAt := time.Now()
	proxy.cut()
	time.Sleep(partition)
	// Readings acknowledged well after the cut can have reached Kafka only past the proxy.
	cutOff := prod.ackedBefore(time.Now())
	var afterCut []readingID
	for _, id := range cutOff {
		if prod.ackedAt(id).After(cutAt.Add(2 * time.Second)) {
			afterCut = append(afterCut, id)
		}
	}
	leaked := len(afterCut) - len(got.missing(afterCut))
	proxy.heal()
	healedAt := time.Now()
	if leaked > 0 {
		t.Errorf("%d readings acknowledged during the cut reached the consumer before the heal: the edge does not go through the proxy", leaked)
	}
	ackedDuringCut := prod.acksBetween(cutAt, healedAt)
	backlog := prod.ackedBefore(healedAt)
	recovery, stillMissing := got.waitFor(backlog, time.Minute)
	time.Sleep(5 * time.Second)
	close(stop)
	<-produced
	all := prod.ackedBefore(time.Time{})
	_, missing := got.waitFor(all, 30*time.Second)
	dupDropped := cons.stop()
	edge.stop()

	c := tally(prod, got, dupDropped)
	fmt.Printf("chaos TestPartitionHealed: %d readings/s over %d streams; link cut %s; edge acknowledged %d requests during the cut (max wait for an ack %.2f s); "+
		"recovery %.1f s (healed → all %d readings acknowledged before received), no restart\n",
		s.rate, s.streams, partition, ackedDuringCut, prod.maxAckWait.Seconds(), recovery.Seconds(), len(backlog))
	if len(stillMissing) > 0 {
		t.Errorf("%d readings acknowledged before the heal did not arrive within 1 min of it: the edge did not recover without a restart", len(stillMissing))
	}
	if ackedDuringCut == 0 {
		t.Errorf("the edge acknowledged nothing while the link was cut: ingest stalled (last error: %s)", prod.lastErr)
	}
	report(t, "TestPartitionHealed", c, got, missing, false)
}

// tcpProxy forwards connections from its listener to target; cut stops the
// bytes in both directions (and new connections), heal lets them through again.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu   sync.Mutex
	open chan struct{} // closed while the link is up
}

func startProxy(t *testing.T, listen, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("proxy %s → %s: %v", listen, target, err)
	}
	p := &tcpProxy{ln: ln, target: target, open: make(chan struct{})}
	close(p.open)
	var conns sync.WaitGroup
	var live sync.Map
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			live.Store(c, true)
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer live.Delete(c)
				p.forward(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.heal()
		live.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		conns.Wait()
	})
	return p
}

func (p *tcpProxy) gate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

func (p *tcpProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *tcpProxy) forward(client net.Conn) {
	defer client.Close()
	<-p.gate()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
}

// pipe copies src to dst, holding each chunk while the link is cut.
func (p *tcpProxy) pipe(dst io.WriteCloser, src io.Reader) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
