package frame

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIntegerStreams round-trips every integer stream kind on many shapes of
// data, including Rice escapes and 64-bit widths.
func TestIntegerStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := map[string]func(i int) uint64{
		"zero":      func(int) uint64 { return 0 },
		"small":     func(int) uint64 { return uint64(rng.IntN(5)) },
		"geometric": func(int) uint64 { return uint64(rng.ExpFloat64() * 40) },
		"wide":      func(int) uint64 { return rng.Uint64() },
		"max":       func(int) uint64 { return math.MaxUint64 },
		"sparse": func(i int) uint64 {
			if i%37 == 3 {
				return 1 + rng.Uint64()>>uint(rng.IntN(64))
			}
			return 0
		},
		"outliers": func(i int) uint64 {
			if i%50 == 7 {
				return rng.Uint64()
			}
			return uint64(rng.IntN(3))
		},
	}
	enc, _ := NewEncoder(Options{})
	dec := NewDecoder()
	for name, gen := range shapes {
		for _, n := range []int{1, 2, 127, 128, 129, 1000, 70000} {
			zs := make([]uint64, n)
			for i := range zs {
				zs[i] = gen(i)
			}
			check := func(kind string, stream []byte, read func([]byte, []uint64) ([]byte, error)) {
				got := make([]uint64, n)
				rest, err := read(append(stream, 0xee), got)
				if err != nil {
					t.Fatalf("%s/%d/%s: %v", name, n, kind, err)
				}
				if !slices.Equal(got, zs) || len(rest) != 1 {
					t.Fatalf("%s/%d/%s: round trip differs (rest %d bytes)", name, n, kind, len(rest))
				}
				for cut := 0; cut < len(stream) && n <= 1000; cut += 1 + len(stream)/50 {
					if _, err := read(stream[:cut], got); err == nil && kind != "bit-packed/zero" {
						t.Fatalf("%s/%d/%s: truncated to %d of %d bytes decodes", name, n, kind, cut, len(stream))
					}
				}
			}
			check("chosen", enc.appendInts(nil, zs), dec.readInts)
			for k := uint(0); k <= riceMaxK; k += 7 {
				check("rice", appendRice(nil, zs, k), func(src []byte, out []uint64) ([]byte, error) { return readRice(src, out, k) })
			}
			kind := "bit-packed"
			if name == "zero" {
				kind = "bit-packed/zero"
			}
			check(kind, appendBitPacked(nil, zs), readBitPacked)
		}
	}
}
