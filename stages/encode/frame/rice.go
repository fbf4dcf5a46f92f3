package frame

import (
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

// riceLen returns the size in bits of zs Rice coded with parameter k.
func riceLen(zs []uint64, k uint) int {
	n := 0
	for _, z := range zs {
		if q := z >> k; q < riceEscape {
			n += int(q) + 1 + int(k)
		} else {
			n += riceEscape + 64
		}
	}
	return n
}

// chooseRice returns the best Rice parameter near the one the mean suggests, and
// the stream size in bytes.
func chooseRice(zs []uint64, sum uint64) (k uint, size int) {
	mean := sum / uint64(len(zs))
	k0 := uint(max(bits.Len64(mean)-1, 0))
	best, bestBits := uint(0), -1
	for k := k0 - min(k0, 1); k <= min(k0+1, riceMaxK); k++ {
		if b := riceLen(zs, k); bestBits < 0 || b < bestBits {
			best, bestBits = k, b
		}
	}
	return best, (bestBits + 7) / 8
}

// appendRice writes zs Rice coded with parameter k (without the k byte).
func appendRice(dst []byte, zs []uint64, k uint) []byte {
	var w bitWriter
	w.dst = dst
	mask := uint64(1)<<k - 1
	for _, z := range zs {
		if q := z >> k; q < riceEscape {
			w.write(uint64(1)<<q-1, uint(q)+1) // q ones, then a zero
			w.write(z&mask, k)
		} else {
			w.write(1<<riceEscape-1, riceEscape)
			w.write(z, 64)
		}
	}
	return w.flush()
}

// readRice fills zs from a Rice coded stream with parameter k at the start of
// src and returns the rest of src.
func readRice(src []byte, zs []uint64, k uint) ([]byte, error) {
	r := bitReader{src: src}
	for i := range zs {
		r.refill()
		ones := uint(bits.TrailingZeros64(^r.acc))
		if ones >= riceEscape && r.n >= riceEscape {
			r.skip(riceEscape)
			lo, ok1 := r.read(32)
			hi, ok2 := r.read(32)
			if !ok1 || !ok2 {
				return nil, corruptf("Rice integers: truncated escape at value %d", i)
			}
			zs[i] = hi<<32 | lo
			continue
		}
		if ones >= r.n {
			return nil, corruptf("Rice integers: truncated at value %d", i)
		}
		r.skip(ones + 1)
		low, ok := r.read(k)
		if !ok {
			return nil, corruptf("Rice integers: truncated at value %d", i)
		}
		zs[i] = uint64(ones)<<k | low
	}
	return src[r.consumed():], nil
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
		w.dst = append(w.dst, byte(w.acc), byte(w.acc>>8), byte(w.acc>>16), byte(w.acc>>24),
			byte(w.acc>>32), byte(w.acc>>40), byte(w.acc>>48), byte(w.acc>>56))
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

// bitReader reads bits least significant first.
type bitReader struct {
	src  []byte
	pos  int    // next byte of src to load
	acc  uint64 // loaded bits
	n    uint   // number of loaded bits
	used uint64 // bits consumed
}

func (r *bitReader) refill() {
	for r.n <= 56 && r.pos < len(r.src) {
		r.acc |= uint64(r.src[r.pos]) << r.n
		r.pos++
		r.n += 8
	}
}

func (r *bitReader) skip(w uint) {
	r.acc >>= w
	r.n -= w
	r.used += uint64(w)
}

// read returns the next w <= 56 bits.
func (r *bitReader) read(w uint) (uint64, bool) {
	if w == 0 {
		return 0, true
	}
	r.refill()
	if r.n < w {
		return 0, false
	}
	v := r.acc & (uint64(1)<<w - 1)
	r.skip(w)
	return v, true
}

// consumed is the number of whole bytes the bits read so far occupy.
func (r *bitReader) consumed() int { return int((r.used + 7) / 8) }
