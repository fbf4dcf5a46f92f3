package cloud

import (
	"testing"

	"pgregory.net/rapid"
)

func TestDeduplicatorTable(t *testing.T) {
	a := StreamKey{Node: "node-1", Stream: "temp"}
	b := StreamKey{Node: "node-2", Stream: "temp"}
	type step struct {
		key    StreamKey
		seq    uint64
		record bool // Record after Check when the verdict is New
		want   Verdict
	}
	tests := []struct {
		name   string
		window int
		steps  []step
	}{
		{"in order from zero", 64, []step{{a, 0, true, New}, {a, 1, true, New}, {a, 2, true, New}}},
		{"in order from one", 64, []step{{a, 1, true, New}, {a, 2, true, New}}},
		{"first seen mid stream", 64, []step{{a, 500, true, New}, {a, 501, true, New}}},
		{"exact redelivery", 64, []step{{a, 1, true, New}, {a, 2, true, New}, {a, 2, true, Duplicate}, {a, 1, true, Duplicate}}},
		{"out of order within window", 64, []step{{a, 5, true, New}, {a, 3, true, New}, {a, 4, true, New}, {a, 3, true, Duplicate}, {a, 6, true, New}}},
		{"gap then fill", 64, []step{{a, 1, true, New}, {a, 10, true, New}, {a, 5, true, New}, {a, 5, true, Duplicate}, {a, 9, true, New}}},
		{"below window is stale", 64, []step{{a, 100, true, New}, {a, 36, true, Stale}, {a, 37, true, New}}},
		{"window forgets after a big jump", 64, []step{{a, 1, true, New}, {a, 1000, true, New}, {a, 999, true, New}, {a, 1, true, Stale}}},
		{"slot reuse after advancing", 64, []step{{a, 0, true, New}, {a, 64, true, New}, {a, 0, true, Stale}, {a, 65, true, New}, {a, 1, true, Stale}}},
		{"streams are independent", 64, []step{{a, 7, true, New}, {b, 7, true, New}, {a, 7, true, Duplicate}, {b, 8, true, New}}},
		{"check without record stays new", 64, []step{{a, 1, false, New}, {a, 1, false, New}, {a, 1, true, New}, {a, 1, true, Duplicate}}},
		{"unrecorded failure below high is new on redelivery", 64, []step{{a, 1, true, New}, {a, 2, false, New}, {a, 3, true, New}, {a, 2, true, New}, {a, 2, true, Duplicate}}},
		{"window rounds up to 64", 10, []step{{a, 100, true, New}, {a, 50, true, New}, {a, 36, true, Stale}}},
		{"max seq", 64, []step{{a, ^uint64(0) - 1, true, New}, {a, ^uint64(0), true, New}, {a, ^uint64(0), true, Duplicate}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDeduplicator(tt.window)
			for i, s := range tt.steps {
				got := d.Check(s.key, s.seq)
				if got != s.want {
					t.Fatalf("step %d: Check(%v, %d) = %v, want %v", i, s.key, s.seq, got, s.want)
				}
				if got == New && s.record {
					d.Record(s.key, s.seq)
				}
			}
		})
	}
}

// TestDeduplicatorProperties checks against a model that remembers everything:
// nothing is delivered twice, nothing in order is dropped, and within the window
// the verdict is exact.
func TestDeduplicatorProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		window := rapid.IntRange(1, 300).Draw(t, "window")
		d := NewDeduplicator(window)
		w := uint64(d.Window())
		keys := []StreamKey{{"n1", "s"}, {"n1", "t"}, {"n2", "s"}}
		delivered := map[StreamKey]map[uint64]bool{}
		high := map[StreamKey]uint64{}
		for i, n := 0, rapid.IntRange(1, 400).Draw(t, "ops"); i < n; i++ {
			k := keys[rapid.IntRange(0, len(keys)-1).Draw(t, "key")]
			var seq uint64
			switch rapid.IntRange(0, 3).Draw(t, "how") {
			case 0: // next in order
				seq = high[k] + 1
			case 1: // jump ahead
				seq = high[k] + rapid.Uint64Range(1, 2*w).Draw(t, "jump")
			default: // redelivered or late
				back := rapid.Uint64Range(0, 2*w).Draw(t, "back")
				if back > high[k] {
					back = high[k]
				}
				seq = high[k] - back
			}
			handled := rapid.IntRange(0, 9).Draw(t, "handled") > 0 // the handler fails 1 time in 10
			v := d.Check(k, seq)
			seen := delivered[k][seq]
			_, started := high[k]
			switch {
			case v == New && seen:
				t.Fatalf("%v seq %d delivered twice", k, seq)
			case !started || seq > high[k]:
				if v != New {
					t.Fatalf("%v seq %d in order (high %d) got %v", k, seq, high[k], v)
				}
			case high[k]-seq < w && !seen && v != New:
				t.Fatalf("%v seq %d within window (high %d) never delivered, got %v", k, seq, high[k], v)
			case high[k]-seq < w && seen && v != Duplicate:
				t.Fatalf("%v seq %d within window (high %d) delivered, got %v", k, seq, high[k], v)
			}
			if v == New && handled {
				d.Record(k, seq)
				if delivered[k] == nil {
					delivered[k] = map[uint64]bool{}
				}
				delivered[k][seq] = true
				if !started || seq > high[k] {
					high[k] = seq
				}
			}
		}
	})
}

func BenchmarkDeduplicatorInOrder(b *testing.B) {
	d := NewDeduplicator(0)
	k := StreamKey{"node-1", "temp"}
	for i := 0; i < b.N; i++ {
		if d.Observe(k, uint64(i)) != New {
			b.Fatal("dropped")
		}
	}
}
