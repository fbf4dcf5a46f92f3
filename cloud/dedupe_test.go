package cloud

import (
	"math"
	"testing"

	"pgregory.net/rapid"
)

func TestDeduplicatorTable(t *testing.T) {
	a := StreamKey{Node: "node-1", Stream: "temp"}
	b := StreamKey{Node: "node-2", Stream: "temp"}
	type step struct {
		key    StreamKey
		seq    uint64
		first  int64 // 0: seq*10, as for a stream numbered in time order
		record bool  // Record after Check when the verdict is to deliver
		want   Verdict
	}
	tests := []struct {
		name   string
		window int
		steps  []step
	}{
		{"in order from zero", 64, []step{{a, 0, -1, true, New}, {a, 1, 0, true, New}, {a, 2, 0, true, New}}},
		{"in order from one", 64, []step{{a, 1, 0, true, New}, {a, 2, 0, true, New}}},
		{"first seen mid stream", 64, []step{{a, 500, 0, true, New}, {a, 501, 0, true, New}}},
		{"exact redelivery", 64, []step{{a, 1, 0, true, New}, {a, 2, 0, true, New}, {a, 2, 0, true, Duplicate}, {a, 1, 0, true, Duplicate}}},
		{"out of order within window", 64, []step{{a, 5, 0, true, New}, {a, 3, 0, true, New}, {a, 4, 0, true, New}, {a, 3, 0, true, Duplicate}, {a, 6, 0, true, New}}},
		{"gap then fill", 64, []step{{a, 1, 0, true, New}, {a, 10, 0, true, New}, {a, 5, 0, true, New}, {a, 5, 0, true, Duplicate}, {a, 9, 0, true, New}}},
		{"below window is stale", 64, []step{{a, 100, 0, true, New}, {a, 36, 0, true, Stale}, {a, 37, 0, true, New}}},
		{"window forgets after a big jump", 64, []step{{a, 1, 0, true, New}, {a, 1000, 0, true, New}, {a, 999, 0, true, New}, {a, 1, 0, true, Stale}}},
		{"slot reuse after advancing", 64, []step{{a, 0, -1, true, New}, {a, 64, 0, true, New}, {a, 0, -1, true, Stale}, {a, 65, 0, true, New}, {a, 1, 0, true, Stale}}},
		{"streams are independent", 64, []step{{a, 7, 0, true, New}, {b, 7, 0, true, New}, {a, 7, 0, true, Duplicate}, {b, 8, 0, true, New}}},
		{"check without record stays new", 64, []step{{a, 1, 0, false, New}, {a, 1, 0, false, New}, {a, 1, 0, true, New}, {a, 1, 0, true, Duplicate}}},
		{"unrecorded failure below high is new on redelivery", 64, []step{{a, 1, 0, true, New}, {a, 2, 0, false, New}, {a, 3, 0, true, New}, {a, 2, 0, true, New}, {a, 2, 0, true, Duplicate}}},
		{"window rounds up to 64", 10, []step{{a, 100, 0, true, New}, {a, 50, 0, true, New}, {a, 36, 0, true, Stale}}},
		{"max seq", 64, []step{{a, math.MaxUint64 - 1, 1, true, New}, {a, math.MaxUint64, 2, true, New}, {a, math.MaxUint64, 2, true, Duplicate}}},
		{"node restart numbers from 1 again", 64, []step{
			{a, 1, 10, true, New}, {a, 2, 20, true, New}, {a, 3, 30, true, New},
			{a, 1, 40, true, Restarted}, {a, 2, 50, true, Restarted}, // newer data, seen numbers
			{a, 1, 40, true, Duplicate}, {a, 3, 30, true, Duplicate}, // redeliveries of both runs
			{a, 3, 60, true, Restarted}, {a, 4, 70, true, New}, {a, 4, 70, true, Duplicate},
		}},
		{"restart long after: stale numbers with newer data", 64, []step{
			{a, 1000, 10000, true, New}, {a, 1, 20000, true, Restarted}, {a, 2, 20010, true, Restarted}, {a, 1, 20000, true, Stale},
		}},
		{"no timestamps never restart", 64, []step{{a, 5, math.MinInt64, true, New}, {a, 5, math.MinInt64, true, Duplicate}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDeduplicator(tt.window)
			for i, s := range tt.steps {
				first := s.first
				switch first {
				case 0:
					first = int64(s.seq) * 10
				case -1:
					first = 0
				}
				got := d.Check(s.key, s.seq, first)
				if got != s.want {
					t.Fatalf("step %d: Check(%v, %d, %d) = %v, want %v", i, s.key, s.seq, first, got, s.want)
				}
				if got.Deliver() && s.record {
					d.Record(s.key, s.seq, first)
				}
			}
		})
	}
}

// TestDeduplicatorProperties checks one run of numbering against a model that
// remembers everything: nothing is delivered twice, nothing in order is dropped,
// and within the window the verdict is exact.
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
			first := int64(seq)                                    // one run: data time follows the numbering
			handled := rapid.IntRange(0, 9).Draw(t, "handled") > 0 // the handler fails 1 time in 10
			v := d.Check(k, seq, first)
			seen := delivered[k][seq]
			_, started := high[k]
			switch {
			case v.Deliver() && seen:
				t.Fatalf("%v seq %d delivered twice (%v)", k, seq, v)
			case !started || seq > high[k]:
				if v != New {
					t.Fatalf("%v seq %d in order (high %d) got %v", k, seq, high[k], v)
				}
			case high[k]-seq < w && !seen && v != New:
				t.Fatalf("%v seq %d within window (high %d) never delivered, got %v", k, seq, high[k], v)
			case high[k]-seq < w && seen && v != Duplicate:
				t.Fatalf("%v seq %d within window (high %d) delivered, got %v", k, seq, high[k], v)
			}
			if v.Deliver() && handled {
				d.Record(k, seq, first)
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

// TestDeduplicatorRestartProperties models one stream whose node restarts its
// numbering from 1 now and then, with frames redelivered and handlers failing:
// no frame is delivered twice, and every frame whose data is newer than all
// delivered data is delivered.
func TestDeduplicatorRestartProperties(t *testing.T) {
	type frameID struct {
		run int
		seq uint64
	}
	rapid.Check(t, func(t *rapid.T) {
		d := NewDeduplicator(rapid.IntRange(1, 200).Draw(t, "window"))
		k := StreamKey{"n", "s"}
		run, seq := 0, uint64(0)
		var clock int64
		var produced []frameID
		firstOf := map[frameID]int64{}
		delivered := map[frameID]bool{}
		newest := int64(math.MinInt64)
		for i, n := 0, rapid.IntRange(1, 300).Draw(t, "ops"); i < n; i++ {
			var f frameID
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op == 0: // the node restarts
				run, seq = run+1, 0
				continue
			case op <= 6 || len(produced) == 0: // the next frame
				seq++
				clock += rapid.Int64Range(1, 100).Draw(t, "dt")
				f = frameID{run, seq}
				produced = append(produced, f)
				firstOf[f] = clock
			default: // a frame produced earlier comes again
				f = produced[rapid.IntRange(0, len(produced)-1).Draw(t, "again")]
			}
			first := firstOf[f]
			v := d.Check(k, f.seq, first)
			if v.Deliver() && delivered[f] {
				t.Fatalf("frame %+v delivered twice (%v)", f, v)
			}
			if first > newest && !v.Deliver() {
				t.Fatalf("frame %+v with data newer than all delivered was dropped (%v)", f, v)
			}
			if v.Deliver() && rapid.IntRange(0, 9).Draw(t, "handled") > 0 {
				d.Record(k, f.seq, first)
				delivered[f] = true
				newest = max(newest, first)
			}
		}
	})
}

func BenchmarkDeduplicatorInOrder(b *testing.B) {
	d := NewDeduplicator(0)
	k := StreamKey{"node-1", "temp"}
	for i := 0; i < b.N; i++ {
		if d.Observe(k, uint64(i), int64(i)) != New {
			b.Fatal("dropped")
		}
	}
}
