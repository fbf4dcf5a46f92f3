package frame

import (
	"encoding/binary"
	"math"
	"math/bits"
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

// FuzzRice checks readRice against readRiceReference on arbitrary bytes: the
// same values, the same rest of the input, an error from both or neither.
func FuzzRice(f *testing.F) {
	f.Add(byte(3), uint16(100), appendRice(nil, []uint64{1, 2, 3, 1 << 40, 0, 7}, 3))
	f.Add(byte(56), uint16(5), appendRice(nil, []uint64{1 << 60, 3, math.MaxUint64}, 56))
	f.Add(byte(0), uint16(300), appendRice(nil, make([]uint64, 300), 0))
	f.Add(byte(0), uint16(40), appendRice(nil, []uint64{0, 1, 2, 31, 32, 33, 5, 1 << 50, 0, 0, 3}, 0))
	f.Add(byte(57), uint16(1000), appendRice(nil, []uint64{7, 0, 1, 0, 0, 2, 1, 0, 0, 0, 1, 0, 3, 0, 0, 1, 1, 0, 0, 0, 0, 1}, 0))
	f.Fuzz(func(t *testing.T, k byte, n uint16, src []byte) {
		kk := uint(k) % (riceMaxK + 1)
		got, want := make([]uint64, n%2000), make([]uint64, n%2000)
		rest, err := readRice(src, got, kk)
		wantRest, wantErr := readRiceReference(src, want, kk)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("k=%d n=%d: error %v, reference %v", kk, len(got), err, wantErr)
		}
		if err == nil && (!slices.Equal(got, want) || len(rest) != len(wantRest)) {
			t.Fatalf("k=%d n=%d: values or rest (%d, reference %d bytes) differ", kk, len(got), len(rest), len(wantRest))
		}
	})
}

// readRiceReference is the straightforward Rice decoder that readRice must
// agree with: it fills zs from a Rice coded stream with parameter k at the start of
// src and returns the rest of src. The bit reader lives in local variables:
// acc holds n loaded bits (bits above n may already hold the following stream
// bits, which a later load puts back identically); pos is the next byte to load.
func readRiceReference(src []byte, zs []uint64, k uint) ([]byte, error) {
	var acc uint64
	var n uint
	pos := 0
	refill := func() {
		if pos+8 <= len(src) {
			acc |= binary.LittleEndian.Uint64(src[pos:]) << n
			adv := (63 - n) >> 3
			pos += int(adv)
			n += adv * 8
			return
		}
		for n <= 56 && pos < len(src) {
			acc |= uint64(src[pos]) << n
			pos++
			n += 8
		}
	}
	mask := uint64(1)<<k - 1
	for i := range zs {
		if n < 57 {
			refill()
		}
		ones := uint(bits.TrailingZeros64(^acc))
		if ones < riceEscape {
			need := ones + 1 + k
			if need <= n {
				zs[i] = uint64(ones)<<k | (acc>>(ones+1))&mask
				acc >>= need
				n -= need
				continue
			}
			if ones >= n {
				return nil, corruptf("Rice integers: truncated at value %d", i)
			}
			acc >>= ones + 1
			n -= ones + 1
			refill()
			if n < k {
				return nil, corruptf("Rice integers: truncated at value %d", i)
			}
			zs[i] = uint64(ones)<<k | acc&mask
			acc >>= k // k <= 56: no shift by 64
			n -= k
			continue
		}
		// Escape: 32 one bits, then 64 bits in two halves.
		var z uint64
		for half, want := 0, uint(riceEscape); half < 3; half++ {
			if n < want {
				refill()
				if n < want {
					return nil, corruptf("Rice integers: truncated escape at value %d", i)
				}
			}
			if half > 0 {
				z |= (acc & (1<<32 - 1)) << (32 * (half - 1))
			}
			acc >>= want
			n -= want
			want = 32
		}
		zs[i] = z
	}
	used := pos*8 - int(n) // bits consumed
	return src[(used+7)/8:], nil
}
