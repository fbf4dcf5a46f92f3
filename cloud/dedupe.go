package cloud

import "fmt"

// StreamKey names one stream of one edge node: the unit frame sequence numbers
// count in.
type StreamKey struct {
	Node   string
	Stream string
}

func (k StreamKey) String() string { return k.Node + "/" + k.Stream }

// Verdict is what a Deduplicator says about a sequence number.
type Verdict uint8

const (
	// New: the sequence number was not recorded before; deliver it.
	New Verdict = iota
	// Duplicate: the sequence number was recorded before; drop it.
	Duplicate
	// Stale: the sequence number lies further below the high-water mark than the
	// window remembers, so whether it was delivered cannot be told; it is dropped
	// (delivering at most once is preferred to delivering twice).
	Stale
)

func (v Verdict) String() string {
	switch v {
	case New:
		return "new"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// DefaultDedupeWindow is the number of sequence numbers below the high-water mark
// a Deduplicator remembers per stream when none is given.
const DefaultDedupeWindow = 4096

// Deduplicator remembers, per (node, stream), the highest sequence number recorded
// (the high-water mark) and which of the Window sequence numbers at and below it
// were recorded, in a bitmap of Window bits. Frames arriving in order cost one
// comparison; frames arriving out of order or redelivered within the window are
// recognised exactly; frames older than the window are reported Stale.
//
// Check and Record are separate so that a caller records a frame only once it was
// handled: a frame whose handling failed is redelivered and must be New again.
// A Deduplicator is not safe for concurrent use.
type Deduplicator struct {
	window  uint64
	streams map[StreamKey]*seqWindow
}

// seqWindow tracks one stream. Bit (seq % window) of seen is set when seq, with
// high-window < seq <= high, was recorded.
type seqWindow struct {
	high uint64
	seen []uint64
}

// NewDeduplicator returns a Deduplicator remembering window sequence numbers per
// stream (rounded up to a multiple of 64; DefaultDedupeWindow when window <= 0).
// Memory is about window/8 bytes per stream.
func NewDeduplicator(window int) *Deduplicator {
	if window <= 0 {
		window = DefaultDedupeWindow
	}
	w := (uint64(window) + 63) / 64 * 64
	return &Deduplicator{window: w, streams: map[StreamKey]*seqWindow{}}
}

// Window is the number of sequence numbers remembered per stream.
func (d *Deduplicator) Window() int { return int(d.window) }

// Streams is the number of streams tracked.
func (d *Deduplicator) Streams() int { return len(d.streams) }

// Check says whether seq of stream k was recorded, without recording it.
func (d *Deduplicator) Check(k StreamKey, seq uint64) Verdict {
	s := d.streams[k]
	switch {
	case s == nil || seq > s.high:
		return New
	case s.high-seq >= d.window:
		return Stale
	case s.seen[(seq%d.window)/64]&(1<<(seq%64)) != 0:
		return Duplicate
	}
	return New
}

// Record marks seq of stream k as delivered. Recording a Stale or already
// recorded sequence number does nothing.
func (d *Deduplicator) Record(k StreamKey, seq uint64) {
	s := d.streams[k]
	if s == nil {
		s = &seqWindow{high: seq, seen: make([]uint64, d.window/64)}
		d.streams[k] = s
	} else if seq > s.high {
		if seq-s.high >= d.window {
			clear(s.seen)
		} else {
			for q := s.high + 1; q < seq; q++ {
				s.clearBit(q, d.window)
			}
		}
		s.high = seq
	} else if s.high-seq >= d.window {
		return
	}
	i := seq % d.window
	s.seen[i/64] |= 1 << (i % 64)
}

// clearBit forgets seq (the slot it shares with seq-window, now leaving the window).
func (s *seqWindow) clearBit(seq, window uint64) {
	i := seq % window
	s.seen[i/64] &^= 1 << (i % 64)
}

// Observe is Check followed, for New, by Record: for callers that deliver
// synchronously and cannot fail.
func (d *Deduplicator) Observe(k StreamKey, seq uint64) Verdict {
	v := d.Check(k, seq)
	if v == New {
		d.Record(k, seq)
	}
	return v
}
