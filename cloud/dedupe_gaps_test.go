package cloud

import (
	"math"
	"testing"
)

// Edge nodes with a data dir skip up to 1023 sequence numbers per stream at a
// restart (stages/encode.SeqReserve) instead of starting at 1 again: every
// frame after such a gap is new, frames redelivered from before it are still
// duplicates while within the window, and the Restarted rule still covers nodes
// that lost their numbering.
func TestDeduplicatorGaps(t *testing.T) {
	k := StreamKey{"n1", "temperature"}
	type step struct {
		seq   uint64
		first int64
		want  Verdict
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "a restart skips a reservation", steps: []step{
			{1, 10, New}, {2, 20, New}, {3, 30, New},
			{1025, 40, New}, {1026, 50, New}, // restarted: numbers continue above the reservation
			{3, 30, Duplicate},    // redelivered from before the restart, still in the window
			{1025, 40, Duplicate}, // redelivered after it
			{4, 35, New},          // never seen (a gap), within the window
		}},
		{name: "a gap wider than the window", steps: []step{
			{1, 10, New}, {2, 20, New},
			{2 + 5000, 30, New},
			{2, 20, Stale}, // older than the window: cannot be told, dropped
			{5003, 40, New},
		}},
		{name: "a node that lost its data dir numbers from 1 again", steps: []step{
			{1, 10, New}, {2, 20, New}, {3, 30, New},
			{1, 100, Restarted}, {2, 110, Restarted},
			{2, 20, Duplicate}, // the old frame 2 again: its data is not newer
		}},
		{name: "several restarts in a row", steps: []step{
			{1, 10, New}, {1025, 20, New}, {2049, 30, New}, {3073, 40, New},
			{1, 10, Duplicate}, {2049, 30, Duplicate}, {3074, 50, New},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDeduplicator(DefaultDedupeWindow)
			for i, s := range tt.steps {
				if got := d.Observe(k, s.seq, s.first); got != s.want {
					t.Fatalf("step %d: seq %d first %d: %v, want %v", i, s.seq, s.first, got, s.want)
				}
			}
		})
	}
	// Callers without timestamps never see Restarted.
	d := NewDeduplicator(0)
	d.Observe(k, 1, math.MinInt64)
	if got := d.Observe(k, 1, math.MinInt64); got != Duplicate {
		t.Errorf("without timestamps: %v, want duplicate", got)
	}
}
