package frame

import (
	"encoding/binary"
	"math/bits"
)

// Rice coding of an integer stream: value z is written as q = z>>k one bits, a
// zero bit, then the k low bits of z; when q >= riceEscape, as riceEscape one
// bits then all 64 bits of z. Bits are packed least significant first, like
// bit-packing.
const (
	riceEscape = 32
	riceMaxK   = 56
)

// riceSamples is about how many values chooseRice looks at.
const riceSamples = 256

// chooseRice returns the best of the three Rice parameters around the one the
// values' mean suggests, and an estimate of the stream size in bytes, both
// from a sample of the values (the size only steers the choice of stream kind).
func chooseRice(zs []uint64) (k uint, size int) {
	stride := max(1, len(zs)/riceSamples)
	var sum uint64
	samples := 0
	for i := 0; i < len(zs); i += stride {
		sum += min(zs[i], 1<<32)
		samples++
	}
	mean := sum / uint64(samples)
	k1 := uint(max(bits.Len64(mean)-1, 1))
	k1 = min(k1, riceMaxK-1)
	k0, k2 := k1-1, k1+1
	var n0, n1, n2 int
	for i := 0; i < len(zs); i += stride {
		z := zs[i]
		n0 += riceBits(z, k0)
		n1 += riceBits(z, k1)
		n2 += riceBits(z, k2)
	}
	k, best := k0, n0
	if n1 < best {
		k, best = k1, n1
	}
	if n2 < best {
		k, best = k2, n2
	}
	total := best * len(zs) / samples
	return k, (total + 7) / 8
}

// riceBits is the size in bits of z Rice coded with parameter k.
func riceBits(z uint64, k uint) int {
	if q := z >> k; q < riceEscape {
		return int(q) + 1 + int(k)
	}
	return riceEscape + 64
}

// appendRice writes zs Rice coded with parameter k (without the k byte).
func appendRice(dst []byte, zs []uint64, k uint) []byte {
	var w bitWriter
	w.dst = dst
	mask := uint64(1)<<k - 1
	for _, z := range zs {
		q := z >> k
		switch {
		case q < riceEscape && q+1+uint64(k) <= 64:
			// q ones, a zero, then the k low bits, in one write.
			w.write(uint64(1)<<q-1|(z&mask)<<(q+1), uint(q)+1+k)
		case q < riceEscape:
			w.write(uint64(1)<<q-1, uint(q)+1)
			w.write(z&mask, k)
		default:
			w.write(1<<riceEscape-1, riceEscape)
			w.write(z, 64)
		}
	}
	return w.flush()
}

// readRice fills zs from a Rice coded stream with parameter k at the start of
// src and returns the rest of src. The bit reader lives in local variables:
// acc holds n loaded bits (bits above n may already hold the following stream
// bits, which a later load puts back identically); pos is the next byte to load.
func readRice(src []byte, zs []uint64, k uint) ([]byte, error) {
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

// bitWriter appends bits least significant first.
type bitWriter struct {
	dst []byte
	acc uint64
	n   uint
}

// write appends the low w bits of v (w <= 64; v has no bits above w).
func (w *bitWriter) write(v uint64, width uint) {
	w.acc |= v << w.n // shifts of 64 or more give 0
	if w.n+width >= 64 {
		w.dst = binary.LittleEndian.AppendUint64(w.dst, w.acc)
		w.acc = v >> (64 - w.n)
		w.n = w.n + width - 64
	} else {
		w.n += width
	}
}

func (w *bitWriter) flush() []byte {
	for ; w.n > 0; w.n -= min(w.n, 8) {
		w.dst = append(w.dst, byte(w.acc))
		w.acc >>= 8
	}
	return w.dst
}
