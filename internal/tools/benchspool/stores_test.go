package benchspool

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var opens = []struct {
	name string
	open func(dir string) (queueStore, error)
}{
	{"bbolt", func(dir string) (queueStore, error) { return openBolt(dir) }},
	{"pebble", func(dir string) (queueStore, error) { return openPebble(dir) }},
	{"sqlite", func(dir string) (queueStore, error) { return openSQLite(dir) }},
}

// frameSize is about one encoded frame of readings.
const frameSize = 1024

// backlog is how many frames the store holds before the measured rounds.
const backlog = 2000

func frames(n int, rng *rand.Rand) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, frameSize)
		for j := range out[i] {
			out[i][j] = byte(rng.Uint32()) // incompressible, as compressed frames are
		}
	}
	return out
}

// TestStoresKeepOrder checks that every store returns what was appended, in order.
func TestStoresKeepOrder(t *testing.T) {
	for _, o := range opens {
		t.Run(o.name, func(t *testing.T) {
			s, err := o.open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			in := frames(25, rand.New(rand.NewPCG(1, 2)))
			if err := s.Append(1, in[:10]); err != nil {
				t.Fatal(err)
			}
			if err := s.Append(11, in[10:]); err != nil {
				t.Fatal(err)
			}
			keys, got, err := s.Oldest(7)
			if err != nil || len(keys) != 7 || keys[0] != 1 || keys[6] != 7 || string(got[3]) != string(in[3]) {
				t.Fatalf("Oldest(7) = %v, %d payloads, %v", keys, len(got), err)
			}
			if err := s.Delete(1, 7); err != nil {
				t.Fatal(err)
			}
			keys, got, err = s.Oldest(100)
			if err != nil || len(keys) != 18 || keys[0] != 8 || string(got[17]) != string(in[24]) {
				t.Fatalf("after delete: Oldest = %v, %v", keys, err)
			}
		})
	}
}

// BenchmarkStore: one op is one round of append a batch (durable), read the
// oldest batch, delete it (durable), on a store holding a backlog.
func BenchmarkStore(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		for _, o := range opens {
			b.Run(fmt.Sprintf("%s/batch=%d", o.name, batch), func(b *testing.B) {
				s, err := o.open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				rng := rand.New(rand.NewPCG(1, 2))
				in := frames(batch, rng)
				next := uint64(1)
				for next <= backlog {
					if err := s.Append(next, frames(100, rng)); err != nil {
						b.Fatal(err)
					}
					next += 100
				}
				b.SetBytes(int64(batch * frameSize))
				b.ResetTimer()
				for b.Loop() {
					if err := s.Append(next, in); err != nil {
						b.Fatal(err)
					}
					next += uint64(batch)
					keys, _, err := s.Oldest(batch)
					if err != nil || len(keys) != batch {
						b.Fatalf("Oldest: %d keys, %v", len(keys), err)
					}
					if err := s.Delete(keys[0], keys[len(keys)-1]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "frames/s")
			})
		}
	}
}
