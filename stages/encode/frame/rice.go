package frame

import (
	"encoding/binary"
	"math/bits"
	"slices"
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
// buf holds the samples while it works.
func chooseRice(zs []uint64, buf *[2 * riceSamples]uint64) (k uint, size int) {
	stride := max(1, len(zs)/riceSamples)
	sum, samples := riceSampleSum(zs, stride, buf)
	sampled := buf[:samples]
	mean := sum / uint64(samples)
	k1 := uint(max(bits.Len64(mean)-1, 1))
	k1 = min(k1, riceMaxK-1)
	k0, k2 := k1-1, k1+1
	// The size of a value Rice coded with parameter k is q+1+k bits for
	// its quotient q = z>>k below the escape, riceEscape+64 bits above.
	// The capped quotients for k0+1 and k0+2 follow from those for k0:
	// q>>1 = (q - q&1)/2 and q>>2 = (q - q&3)/4; escapes are rare.
	// qsum, odd and low2 are over the samples below the escape for k0;
	// big1 and big2 the quotients for k1 and k2 of the others, below the
	// escape; esc0, esc1 and esc2 the escapes for k0, k1 and k2.
	qsum, odd, low2, esc0 := riceSampleQuotients(sampled, k0)
	var big1, big2, esc1, esc2 uint64
	if esc0 > 0 {
		big1, big2, esc1, esc2 = riceSampleEscapes(sampled, k0)
	}
	q0 := qsum + esc0*riceEscape
	q1 := (qsum-odd)/2 + big1 + esc1*riceEscape
	q2 := (qsum-low2)/4 + big2 + esc2*riceEscape
	n0 := int(q0) + samples*int(1+k0) + int(esc0)*(63-int(k0))
	n1 := int(q1) + samples*int(1+k1) + int(esc1)*(63-int(k1))
	n2 := int(q2) + samples*int(1+k2) + int(esc2)*(63-int(k2))
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

// riceSampleSum copies the samples zs[0], zs[stride], ... (fewer than 512)
// to buf and returns the sum of min(z, 2^32) over them and their number.
// (The sampling loops of chooseRice are functions of their own so that
// their few variables stay in registers.)
//
//go:noinline
func riceSampleSum(zs []uint64, stride int, buf *[2 * riceSamples]uint64) (sum uint64, samples int) {
	for i := 0; i < len(zs); i += stride {
		z := zs[i]
		buf[samples&(2*riceSamples-1)] = z
		sum += min(z, 1<<32)
		samples++
	}
	return sum, samples
}

// riceSampleQuotients sums the quotients q = z >> k0 of the samples below
// the escape, their lowest bits and their two lowest bits, and counts the
// escapes; four at a time with AVX2 where the CPU has it.
func riceSampleQuotients(s []uint64, k0 uint) (qsum, odd, low2, esc uint64) {
	if haveScaleAsm && len(s) >= 4 {
		qsum, odd, low2, esc = riceQuotientsAVX2(&s[0], len(s)&^3, k0)
		s = s[len(s)&^3:]
	}
	for _, z := range s {
		q := z >> (k0 & 63)
		if q >= riceEscape {
			esc++
			continue
		}
		qsum += q
		odd += q & 1
		low2 += q & 3
	}
	return qsum, odd, low2, esc
}

// riceSampleEscapes sums the quotients for k0+1 and k0+2 of the samples that
// escape with k0, below the escape, and counts those that escape.
func riceSampleEscapes(s []uint64, k0 uint) (big1, big2, esc1, esc2 uint64) {
	for _, z := range s {
		q := z >> (k0 & 63)
		if q < riceEscape {
			continue
		}
		if q>>1 < riceEscape {
			big1 += q >> 1
		} else {
			esc1++
		}
		if q>>2 < riceEscape {
			big2 += q >> 2
		} else {
			esc2++
		}
	}
	return big1, big2, esc1, esc2
}

// appendRice writes zs Rice coded with parameter k (without the k byte).
// Each code goes into the bit accumulator acc (n < 8 bits pending), whose
// 8 bytes are stored at pos, which then moves past the whole bytes: no branch
// per value but for codes over 57 bits (escapes, large parameters), which
// riceLong writes in parts. The buffer grows by chunks of values, with room
// for their longest codes and the 8-byte stores.
func appendRice(dst []byte, zs []uint64, k uint) []byte {
	const chunk = 256
	const maxCodeBytes = (riceEscape + 64 + 7) / 8
	var acc uint64
	var n uint
	for len(zs) > 0 {
		part := zs[:min(len(zs), chunk)]
		zs = zs[len(part):]
		pos := len(dst)
		buf := slices.Grow(dst, len(part)*maxCodeBytes+8)
		buf = buf[:cap(buf)]
		for len(part) > 0 {
			var done int
			done, pos, acc, n = riceShort(buf, pos, acc, n, part, k)
			part = part[done:]
			if len(part) > 0 {
				pos, acc, n = riceLong(buf, pos, acc, n, part[0], k)
				part = part[1:]
			}
		}
		dst = buf[:pos]
	}
	if n > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// riceShort writes the codes of zs with parameter k to buf from byte pos
// on (acc holding n < 8 pending bits) until one is longer than 57 bits, and
// returns how many it wrote and the new pos, acc and n. buf has room for
// 12 bytes per value and 8 more. It runs in BMI2 assembly where the CPU has
// it.
func riceShort(buf []byte, pos int, acc uint64, n uint, zs []uint64, k uint) (int, int, uint64, uint) {
	if haveRiceAsm && len(zs) > 0 && pos+12*len(zs)+8 <= len(buf) {
		return riceShortBMI2(&buf[0], pos, acc, n, &zs[0], len(zs), k)
	}
	return riceShortGo(buf, pos, acc, n, zs, k)
}

// riceShortGo is riceShort in Go.
func riceShortGo(buf []byte, pos int, acc uint64, n uint, zs []uint64, k uint) (int, int, uint64, uint) {
	k &= 63
	mask := uint64(1)<<k - 1
	for i, z := range zs {
		q := z >> k
		if q >= riceEscape || q+1+uint64(k) > 57 {
			return i, pos, acc, n
		}
		// q ones, a zero, then the k low bits, in one store.
		acc |= (uint64(1)<<q - 1 | (z&mask)<<((q+1)&63)) << (n & 63)
		n += uint(q) + 1 + k
		binary.LittleEndian.PutUint64(buf[pos:], acc)
		pos += int(n >> 3)
		acc = acc >> (n &^ 7 & 63) &^ (0 - uint64(n>>6)) // n = 64: nothing left
		n &= 7
	}
	return len(zs), pos, acc, n
}

// riceLong writes the code of z with parameter k as riceShort does when it
// is longer than 57 bits: the unary part (or the escape's 32 one bits), then
// the rest in two parts of at most 32 bits.
func riceLong(buf []byte, pos int, acc uint64, n uint, z uint64, k uint) (int, uint64, uint) {
	q := z >> k
	var head uint64 // the unary part and its zero bit, or the escape
	var headBits uint
	var tail [2]uint64 // the rest, in up to two parts of at most 32 bits
	var tailBits [2]uint
	if q < riceEscape {
		head, headBits = uint64(1)<<q-1, uint(q)+1
		low := z & (uint64(1)<<k - 1)
		tail[0], tailBits[0] = low&(1<<32-1), min(k, 32)
		tail[1], tailBits[1] = low>>32, k-min(k, 32)
	} else {
		head, headBits = 1<<riceEscape-1, riceEscape
		tail[0], tailBits[0] = z&(1<<32-1), 32
		tail[1], tailBits[1] = z>>32, 32
	}
	for j, v := range [3]uint64{head, tail[0], tail[1]} {
		w := headBits
		if j > 0 {
			w = tailBits[j-1]
		}
		acc |= v << n
		n += w
		binary.LittleEndian.PutUint64(buf[pos:], acc)
		pos += int(n >> 3)
		acc = acc >> (n &^ 7 & 63) &^ (0 - uint64(n>>6))
		n &= 7
	}
	return pos, acc, n
}

// readRice fills zs from a Rice coded stream with parameter k at the start of
// src and returns the rest of src. Unary streams (k = 0) go through
// readUnary, which decodes whole words at a time, between escapes.
func readRice(src []byte, zs []uint64, k uint) ([]byte, error) {
	if k != 0 {
		var done int
		var bp uint
		if haveRiceAsm && len(zs) > 0 && len(src) >= 8 {
			done, bp = riceBMI2(&src[0], len(src), k, &zs[0], len(zs))
		}
		return readRiceFrom(src, zs[done:], k, bp, done)
	}
	var bp uint
	first := 0
	for {
		i, end := readUnary(src, zs[first:], bp)
		first, bp = first+i, end
		if first == len(zs) {
			return src[(bp+7)/8:], nil
		}
		// An escape, or the end of the words readUnary reads: one value
		// the careful way.
		var err error
		if bp, err = readRiceBits(src, zs[first:first+1], k, bp, first); err != nil {
			return nil, err
		}
		first++
		if first == len(zs) {
			return src[(bp+7)/8:], nil
		}
		if int(bp/8)+8 > len(src) {
			bp, err = readRiceBits(src, zs[first:], k, bp, first)
			if err != nil {
				return nil, err
			}
			return src[(bp+7)/8:], nil
		}
	}
}

// readRiceFrom fills zs from the Rice coded stream in src from bit position
// bp on, the first value being value first of the stream (for errors), and
// returns the rest of src. The bit reader lives in local variables: acc holds
// n loaded bits (bits above n may already hold the following stream bits,
// which a later load puts back identically); pos is the next byte to load.
func readRiceFrom(src []byte, zs []uint64, k uint, bp uint, first int) ([]byte, error) {
	used, err := readRiceBits(src, zs, k, bp, first)
	if err != nil {
		return nil, err
	}
	return src[(used+7)/8:], nil
}

// readRiceBits is readRiceFrom returning the bit position after the values.
func readRiceBits(src []byte, zs []uint64, k uint, bp uint, first int) (uint, error) {
	var acc uint64
	var n uint
	pos := int(bp >> 3)
	if skip := bp & 7; skip != 0 && pos < len(src) {
		acc = uint64(src[pos]) >> skip
		n = 8 - skip
		pos++
	}
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
	// Fast part: a branch-free refill to at least 56 bits, then one value
	// and, when it fits in what is left, a second one.
	i := 0
	for i+1 < len(zs) && pos+8 <= len(src) {
		acc |= binary.LittleEndian.Uint64(src[pos:]) << n
		pos += int((63 - n) >> 3)
		n |= 56
		ones := uint(bits.TrailingZeros64(^acc))
		need := ones + 1 + k
		if ones >= riceEscape || need > n {
			break
		}
		zs[i] = uint64(ones)<<k | (acc>>(ones+1))&mask
		acc >>= need
		n -= need
		ones = uint(bits.TrailingZeros64(^acc))
		need = ones + 1 + k
		if ones >= riceEscape || need > n {
			i++
			continue
		}
		zs[i+1] = uint64(ones)<<k | (acc>>(ones+1))&mask
		acc >>= need
		n -= need
		i += 2
	}
	for ; i < len(zs); i++ {
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
				return 0, corruptf("Rice integers: truncated at value %d", first+i)
			}
			acc >>= ones + 1
			n -= ones + 1
			refill()
			if n < k {
				return 0, corruptf("Rice integers: truncated at value %d", first+i)
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
					return 0, corruptf("Rice integers: truncated escape at value %d", first+i)
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
	return uint(pos*8) - n, nil // bits consumed
}

// readUnary decodes a Rice stream with k = 0 (each value is that many one
// bits and a zero bit) from bit position bp on, eight bytes at a time: the
// values end at the zero bits of each word, taken lowest first. It stops
// before an escape, at the last whole word of src or when zs is full, and
// returns how many values it decoded and the bit position after them.
func readUnary(src []byte, zs []uint64, bp uint) (int, uint) {
	i := 0
	start := bp // bit position of the current value's first one bit
	for pos := int(bp / 8); pos+8 <= len(src); pos += 8 {
		base := uint(8 * pos)
		x := ^binary.LittleEndian.Uint64(src[pos:]) // one bit per value's end
		x &^= 1<<(start-min(start, base)) - 1       // none before start
		for ; x != 0; x &= x - 1 {
			end := base + uint(bits.TrailingZeros64(x))
			q := end - start
			if q >= riceEscape || i >= len(zs) {
				return i, start
			}
			zs[i] = uint64(q)
			i++
			start = end + 1
		}
		if base+64-start >= riceEscape {
			break
		}
	}
	return i, start
}
