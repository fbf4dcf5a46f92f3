package cloud

import (
	"fmt"
	"math"
)

// StreamKey names one stream of one edge node: the unit frame sequence numbers
// count in.
type StreamKey struct {
	Node   string
	Stream string
}

func (k StreamKey) String() string { return k.Node + "/" + k.Stream }

// Verdict is what a Deduplicator says about a frame.
type Verdict uint8

const (
	// New: the sequence number was not recorded before; deliver the frame.
	New Verdict = iota
	// Duplicate: the sequence number was recorded before; drop the frame.
	Duplicate
	// Stale: the sequence number lies further below the high-water mark than the
	// window remembers, so whether it was delivered cannot be told; it is dropped
	// (delivering at most once is preferred to delivering twice).
	Stale
	// Restarted: the sequence number was seen (or is stale) but the frame's first
	// timestamp is later than that of every frame recorded for the stream, so it
	// cannot have been delivered: the node restarted its numbering. Deliver it.
	Restarted
)

func (v Verdict) String() string {
	switch v {
	case New:
		return "new"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	case Restarted:
		return "restarted"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Deliver reports whether a frame with this verdict is to be delivered.
func (v Verdict) Deliver() bool { return v == New || v == Restarted }

// DefaultDedupeWindow is the number of sequence numbers below the high-water mark
// a Deduplicator remembers per stream when none is given.
const DefaultDedupeWindow = 4096

// Deduplicator remembers, per (node, stream), the highest sequence number recorded
// (the high-water mark), which of the Window sequence numbers at and below it
// were recorded (a bitmap of Window bits), and the latest first timestamp of any
// recorded frame. Frames arriving in order cost one comparison; frames arriving
// out of order or redelivered within the window are recognised exactly; older
// ones are Stale. A frame whose sequence number was seen but whose data is newer
// than everything recorded is Restarted (an edge node without a data dir, or
// that lost it, numbers frames from 1 again after a restart; with one, numbers
// continue across restarts with a gap, which needs no special case): since its
// first timestamp is later than that of every delivered frame, it was never
// delivered, so it is never a duplicate.
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
	high   uint64
	seen   []uint64
	newest int64 // latest first timestamp recorded
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

// Check says whether the frame seq of stream k, whose first reading is at first
// (Unix nanoseconds), is to be delivered, without recording it. Callers without
// timestamps pass math.MinInt64 (no frame then counts as Restarted).
func (d *Deduplicator) Check(k StreamKey, seq uint64, first int64) Verdict {
	s := d.streams[k]
	var v Verdict
	switch {
	case s == nil || seq > s.high:
		return New
	case s.high-seq >= d.window:
		v = Stale
	case s.seen[(seq%d.window)/64]&(1<<(seq%64)) != 0:
		v = Duplicate
	default:
		return New
	}
	if first > s.newest && first != math.MinInt64 {
		return Restarted
	}
	return v
}

// Record marks the frame seq of stream k, first reading at first, as delivered.
func (d *Deduplicator) Record(k StreamKey, seq uint64, first int64) {
	s := d.streams[k]
	if s == nil {
		s = &seqWindow{high: seq, seen: make([]uint64, d.window/64), newest: math.MinInt64}
		d.streams[k] = s
	} else if seq > s.high {
		if seq-s.high >= d.window {
			clear(s.seen)
		} else {
			for q := s.high + 1; q < seq; q++ {
				i := q % d.window // the slot q shares with q-window, now leaving the window
				s.seen[i/64] &^= 1 << (i % 64)
			}
		}
		s.high = seq
	}
	if first > s.newest {
		s.newest = first
	}
	if s.high-seq < d.window {
		i := seq % d.window
		s.seen[i/64] |= 1 << (i % 64)
	}
}

// Observe is Check followed, for frames to deliver, by Record: for callers that
// deliver synchronously and cannot fail.
func (d *Deduplicator) Observe(k StreamKey, seq uint64, first int64) Verdict {
	v := d.Check(k, seq, first)
	if v.Deliver() {
		d.Record(k, seq, first)
	}
	return v
}
