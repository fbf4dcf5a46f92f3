package cloud

import (
	"maps"
	"sync"

	"github.com/edgeflow/edgeflow/stages"
)

// RawBytesPerReading is what one reading costs uncompressed: an 8-byte Unix
// nanosecond timestamp and an 8-byte float64 value. Stats.RawBytes counts this
// much per delivered reading; compression ratios are RawBytes/WireBytes.
const RawBytesPerReading = 16

// Stats are counters of a Consumer since it started. Everything counts what was
// delivered to the handler (the handler returned nil) unless it says otherwise.
type Stats struct {
	Messages        uint64 // messages received, redeliveries included
	Frames          uint64 // frames delivered
	ReadingMessages uint64 // messages of kind readings delivered
	Readings        uint64 // readings delivered
	WireBytes       uint64 // payload bytes of the delivered messages, as on the wire
	RawBytes        uint64 // RawBytesPerReading per delivered reading
	Duplicates      uint64 // frames dropped as already delivered, Stale ones included
	Stale           uint64 // frames dropped as older than the dedupe window (part of Duplicates)
	Restarts        uint64 // frames delivered although their sequence number was seen: newer data after a node restart
	DecodeErrors    uint64 // corrupt or undecodable messages, skipped
	HandlerErrors   uint64 // handler errors; each makes the message be redelivered
	// Lag is how many messages of the topic the group has not committed yet,
	// summed over partitions, as last asked from the brokers (every
	// ConsumerConfig.LagInterval while Run runs): -1 until known.
	Lag   int64
	Nodes map[string]NodeStats // per edge node
}

// NodeStats are the counters of one edge node.
type NodeStats struct {
	Frames       uint64
	Readings     uint64
	WireBytes    uint64
	RawBytes     uint64
	Duplicates   uint64
	DecodeErrors uint64
}

// Ratio is RawBytes/WireBytes, the compression ratio (0 when nothing was delivered).
func (s Stats) Ratio() float64 { return ratio(s.RawBytes, s.WireBytes) }

// Ratio is RawBytes/WireBytes for the node.
func (s NodeStats) Ratio() float64 { return ratio(s.RawBytes, s.WireBytes) }

func ratio(raw, wire uint64) float64 {
	if wire == 0 {
		return 0
	}
	return float64(raw) / float64(wire)
}

// statsCollector is the mutable form of Stats, safe for concurrent use.
type statsCollector struct {
	mu sync.Mutex
	s  Stats
}

func newStatsCollector() *statsCollector {
	return &statsCollector{s: Stats{Lag: -1, Nodes: map[string]NodeStats{}}}
}

func (c *statsCollector) node(name string, f func(*NodeStats)) {
	n := c.s.Nodes[name]
	f(&n)
	c.s.Nodes[name] = n
}

func (c *statsCollector) received() {
	c.mu.Lock()
	c.s.Messages++
	c.mu.Unlock()
}

// delivered counts a batch the handler accepted.
func (c *statsCollector) delivered(b *Batch) {
	n := uint64(len(b.Readings))
	wire, raw := uint64(b.WireBytes), n*RawBytesPerReading
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.Kind == stages.KindFrame {
		c.s.Frames++
	} else {
		c.s.ReadingMessages++
	}
	c.s.Readings += n
	c.s.WireBytes += wire
	c.s.RawBytes += raw
	c.node(b.Node, func(ns *NodeStats) {
		if b.Kind == stages.KindFrame {
			ns.Frames++
		}
		ns.Readings += n
		ns.WireBytes += wire
		ns.RawBytes += raw
	})
}

func (c *statsCollector) duplicate(node string, v Verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Duplicates++
	if v == Stale {
		c.s.Stale++
	}
	c.node(node, func(ns *NodeStats) { ns.Duplicates++ })
}

func (c *statsCollector) restarted() {
	c.mu.Lock()
	c.s.Restarts++
	c.mu.Unlock()
}

func (c *statsCollector) decodeError(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.DecodeErrors++
	if node != "" {
		c.node(node, func(ns *NodeStats) { ns.DecodeErrors++ })
	}
}

func (c *statsCollector) handlerError() {
	c.mu.Lock()
	c.s.HandlerErrors++
	c.mu.Unlock()
}

// setLag records the group's lag summed over partitions.
func (c *statsCollector) setLag(lag int64) {
	c.mu.Lock()
	c.s.Lag = lag
	c.mu.Unlock()
}

func (c *statsCollector) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Nodes = maps.Clone(c.s.Nodes)
	return s
}
