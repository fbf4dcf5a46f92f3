package frame

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Decoder turns frames back into Blocks. It is reusable and not safe for
// concurrent use.
type Decoder struct {
	raw  []byte    // body after the back end
	zs   []uint64  // integer stream scratch
	syms []byte    // symbol stream scratch
	pl   []byte    // XOR byte planes
	dict []float64 // dictionary transform: the distinct values before corrections
	ks   []int64   // lag transforms: the scaled integers

	huff huff0.Scratch

	zlibSrc bytes.Reader
	zlibR   io.ReadCloser
	zstdR   *zstd.Decoder
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{}
}

// Decode decodes the first frame in src into b, reusing b's slices, and returns
// its header. Use FrameLen to step to the next frame. After an error the
// content of b is unspecified.
func (d *Decoder) Decode(src []byte, b *Block) (Header, error) {
	fi, err := readFrame(src)
	if err != nil {
		return Header{}, err
	}
	if b.Node != string(fi.node) { // comparing does not allocate
		b.Node = string(fi.node)
	}
	if b.Stream != string(fi.stream) {
		b.Stream = string(fi.stream)
	}
	b.Seq = fi.Seq
	fi.Node, fi.Stream = b.Node, b.Stream

	h, err := d.decodeBody(fi, src, b)
	if err != nil {
		return Header{}, fmt.Errorf("frame %s/%s seq %d: %w", fi.Node, fi.Stream, fi.Seq, err)
	}
	return h, nil
}

// decodeBody undoes the back end and the transforms of a checked frame.
func (d *Decoder) decodeBody(fi frameInfo, src []byte, b *Block) (Header, error) {
	payload := src[fi.headerLen : fi.headerLen+fi.payloadLen]
	body, err := d.decompress(fi, payload)
	if err != nil {
		return Header{}, err
	}
	n := fi.Count
	b.Timestamps = grow(b.Timestamps, n)
	b.Values = grow(b.Values, n)
	body, err = d.readTimestamps(body, fi.FirstTimestamp, b.Timestamps)
	if err != nil {
		return Header{}, fmt.Errorf("timestamps: %w", err)
	}
	if n > 0 {
		switch fi.transform {
		case transformDecimal, transformGrid, transformDecimalLag, transformGridLag:
			body, err = d.readScaled(body, fi.transform, b.Values)
		case transformXOR:
			body, err = d.readXOR(body, b.Values)
		case transformF32Diff:
			body, err = readF32Diff(body, b.Values)
		case transformDict:
			body, err = d.readDict(body, b.Values)
		}
		if err != nil {
			return Header{}, fmt.Errorf("values: %w", err)
		}
	}
	if len(body) != 0 {
		return Header{}, corruptf("%d bytes left over after the values", len(body))
	}
	return fi.Header, nil
}

func (d *Decoder) decompress(fi frameInfo, payload []byte) ([]byte, error) {
	if len(payload) == fi.rawLen {
		return payload, nil // stored
	}
	switch fi.Codec {
	case CodecNone:
		return payload, nil
	case CodecZlib, CodecF32DiffZlib:
		d.zlibSrc.Reset(payload)
		if d.zlibR == nil {
			r, err := zlib.NewReader(&d.zlibSrc)
			if err != nil {
				return nil, corruptf("zlib: %v", err)
			}
			d.zlibR = r
		} else if err := d.zlibR.(zlib.Resetter).Reset(&d.zlibSrc, nil); err != nil {
			return nil, corruptf("zlib: %v", err)
		}
		d.raw = grow(d.raw, fi.rawLen+1)
		n, err := io.ReadFull(d.zlibR, d.raw)
		if (err != io.ErrUnexpectedEOF && err != io.EOF) || n != fi.rawLen {
			if err == nil {
				return nil, corruptf("zlib: body longer than %d bytes", fi.rawLen)
			}
			return nil, corruptf("zlib: body of %d bytes, want %d: %v", n, fi.rawLen, err)
		}
		return d.raw[:n], nil
	case CodecLZ4:
		d.raw = grow(d.raw, fi.rawLen)
		n, err := lz4.UncompressBlock(payload, d.raw)
		if err != nil || n != fi.rawLen {
			return nil, corruptf("lz4: body of %d bytes, want %d: %v", n, fi.rawLen, err)
		}
		return d.raw, nil
	case CodecZstd:
		if d.zstdR == nil {
			r, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxMemory(MaxFrameSize), zstd.WithDecoderMaxWindow(MaxFrameSize))
			if err != nil {
				return nil, err
			}
			d.zstdR = r
		}
		out, err := d.zstdR.DecodeAll(payload, d.raw[:0])
		if err != nil || len(out) != fi.rawLen {
			return nil, corruptf("zstd: body of %d bytes, want %d: %v", len(out), fi.rawLen, err)
		}
		d.raw = out
		return out, nil
	}
	return nil, corruptf("codec %d unknown", fi.Codec)
}

func (d *Decoder) readTimestamps(src []byte, first int64, ts []int64) ([]byte, error) {
	if len(ts) == 0 {
		return src, nil
	}
	ts[0] = first
	if len(ts) == 1 {
		return src, nil
	}
	u, n := binary.Uvarint(src)
	if n <= 0 {
		return nil, corruptf("timestamps: bad first delta")
	}
	src = src[n:]
	delta := unzigzag(u)
	ts[1] = first + delta
	if len(ts) == 2 {
		return src, nil
	}
	t := ts[1]
	if len(src) > 0 && src[0] == intsZero { // a fixed period
		fillPeriod(ts[2:], t, delta)
		return src[1:], nil
	}
	if len(src) > 0 && src[0] == intsSparse { // a fixed period with a few changes
		return readSparseTimestamps(src[1:], t, delta, ts[2:])
	}
	zs := grow(d.zs, len(ts)-2)
	d.zs = zs
	src, err := d.readInts(src, zs)
	if err != nil {
		return nil, err
	}
	for i, z := range zs {
		delta += unzigzag(z)
		t += delta
		ts[i+2] = t
	}
	return src, nil
}

// fillPeriod sets ts[i] = t + (i+1)·delta (wrapping), four at a time.
func fillPeriod(ts []int64, t, delta int64) {
	d2, d3, d4 := 2*delta, 3*delta, 4*delta
	i := 0
	for ; i+4 <= len(ts); i += 4 {
		q := ts[i : i+4 : i+4]
		q[0], q[1], q[2], q[3] = t+delta, t+d2, t+d3, t+d4
		t += d4
	}
	for ; i < len(ts); i++ {
		t += delta
		ts[i] = t
	}
}

// readSparseTimestamps decodes a sparse stream (after its kind byte) of the
// deltas of deltas of ts, as readSparse does, filling the runs between the
// nonzero ones at a fixed delta; t and delta are the timestamp and the delta
// before ts[0].
func readSparseTimestamps(src []byte, t, delta int64, ts []int64) ([]byte, error) {
	m, n := binary.Uvarint(src)
	if n <= 0 || m > uint64(len(ts)) || m > uint64(len(src))/2 {
		return nil, corruptf("sparse integers: bad count")
	}
	src = src[n:]
	i := 0 // the next timestamp to write
	for j := uint64(0); j < m; j++ {
		gap, n := binary.Uvarint(src)
		if n <= 0 || gap >= uint64(len(ts)-i) {
			return nil, corruptf("sparse integers: bad position of value %d", j)
		}
		src = src[n:]
		for end := i + int(gap); i < end; i++ {
			t += delta
			ts[i] = t
		}
		z, n := binary.Uvarint(src)
		if n <= 0 || z == 0 {
			return nil, corruptf("sparse integers: bad value %d", j)
		}
		src = src[n:]
		delta += unzigzag(z)
		t += delta
		ts[i] = t
		i++
	}
	for ; i < len(ts); i++ {
		t += delta
		ts[i] = t
	}
	return src, nil
}

func (d *Decoder) readScaled(src []byte, transform uint8, vals []float64) ([]byte, error) {
	var scale float64
	divide := transform == transformDecimal || transform == transformDecimalLag
	if divide {
		if len(src) < 1 || src[0] > maxDecimals {
			return nil, corruptf("decimal values: bad decimal count")
		}
		scale = pow10[src[0]]
		src = src[1:]
	} else {
		if len(src) < 8 {
			return nil, corruptf("grid values: missing step")
		}
		scale = math.Float64frombits(binary.LittleEndian.Uint64(src))
		src = src[8:]
	}
	if transform == transformDecimalLag || transform == transformGridLag {
		return d.readLagged(src, scale, divide, vals)
	}
	u, n := binary.Uvarint(src)
	if n <= 0 {
		return nil, corruptf("scaled values: bad first integer")
	}
	src = src[n:]
	k := unzigzag(u)
	if divide {
		vals[0] = float64(k) / scale
	} else {
		vals[0] = float64(k) * scale
	}
	rest := vals[1:]
	zs := grow(d.zs, len(rest))
	d.zs = zs
	var err error
	if len(rest) > 0 && len(src) >= 2 && src[0] == intsRice && src[1] > 0 && src[1] <= riceMaxK {
		// Rice deltas: most values in one loop with their conversion.
		var done int
		var bp uint
		mul, div := 1.0, scale
		if !divide {
			mul, div = scale, 1
		}
		if divide {
			done, bp, k = riceScaledDiv(src[2:], uint(src[1]), k, div, rest)
		} else {
			done, bp, k = riceScaled(src[2:], uint(src[1]), k, mul, div, rest)
		}
		rest = rest[done:]
		src, err = readRiceFrom(src[2:], zs[:len(rest)], uint(src[1]), bp, done)
	} else {
		src, err = d.readInts(src, zs[:len(rest)])
	}
	if err != nil {
		return nil, err
	}
	if divide {
		for i, z := range zs[:len(rest)] {
			k += unzigzag(z)
			rest[i] = float64(k) / scale
		}
	} else {
		for i, z := range zs[:len(rest)] {
			k += unzigzag(z)
			rest[i] = float64(k) * scale
		}
	}
	return d.readCorrections(src, vals)
}

// riceScaled decodes the start of a Rice stream with parameter k >= 1 holding
// the zigzag deltas of scaled integers, from k0 on, and converts them to vals
// in the same loop (v = k * mul / div, with one of mul and div equal to 1, so
// exactly k / div or k * mul): the decoder waits on the length of each code,
// and the conversions fill those waits. It is readRiceFrom's fast part; it
// stops where that one needs care (an escape, the last 8 bytes, the last
// value) and returns how many values it decoded, the bit position after them
// and the last integer. Shift counts are masked with 63 (a no-op here) so that
// the compiler emits plain shifts.
func riceScaled(src []byte, k uint, k0 int64, mul, div float64, vals []float64) (int, uint, int64) {
	var acc uint64
	var n uint
	pos := 0
	k &= 63
	mask := uint64(1)<<k - 1
	i := 0
	for i+1 < len(vals) && pos+8 <= len(src) {
		acc |= binary.LittleEndian.Uint64(src[pos:]) << (n & 63)
		pos += int((63 - n) >> 3)
		n |= 56
		ones := uint(bits.TrailingZeros64(^acc))
		if ones >= riceEscape || ones+1+k > n {
			break
		}
		k0 += unzigzag(uint64(ones)<<k | (acc>>((ones+1)&63))&mask)
		acc >>= (ones + 1 + k) & 63
		n -= ones + 1 + k
		vals[i] = float64(k0) * mul / div
		i++
		ones = uint(bits.TrailingZeros64(^acc))
		if ones >= riceEscape || ones+1+k > n {
			continue
		}
		k0 += unzigzag(uint64(ones)<<k | (acc>>((ones+1)&63))&mask)
		acc >>= (ones + 1 + k) & 63
		n -= ones + 1 + k
		vals[i] = float64(k0) * mul / div
		i++
	}
	return i, uint(8*pos) - n, k0
}

// riceScaledDiv is riceScaled for the decimal transform (mul 1): in BMI2
// assembly where the CPU has it, which decodes one value per load and may
// also decode the last one.
func riceScaledDiv(src []byte, k uint, k0 int64, div float64, vals []float64) (int, uint, int64) {
	if !haveRiceAsm {
		return riceScaled(src, k, k0, 1, div, vals)
	}
	if len(vals) == 0 || len(src) < 8 {
		return 0, 0, k0
	}
	return riceDivBMI2(&src[0], len(src), k, k0, div, &vals[0], len(vals))
}

// readDict decodes the dictionary transform: decimals, the sorted distinct
// scaled integers, the ranks, then the corrections.
func (d *Decoder) readDict(src []byte, vals []float64) ([]byte, error) {
	n := len(vals)
	if len(src) < 1 || src[0] > maxDecimals {
		return nil, corruptf("dictionary values: bad decimal count")
	}
	scale := pow10[src[0]]
	src = src[1:]
	u, l := binary.Uvarint(src)
	if l <= 0 || u == 0 || u > uint64(n) {
		return nil, corruptf("dictionary values: bad dictionary size")
	}
	src = src[l:]
	first, l := binary.Uvarint(src)
	if l <= 0 {
		return nil, corruptf("dictionary values: bad smallest integer")
	}
	src = src[l:]
	dict := grow(d.dict, int(u))
	d.dict = dict
	zs := grow(d.zs, n)
	d.zs = zs
	src, err := d.readInts(src, zs[:u-1])
	if err != nil {
		return nil, err
	}
	k := unzigzag(first)
	dict[0] = float64(k) / scale
	for i, gap := range zs[:u-1] {
		k += int64(gap) + 1
		dict[i+1] = float64(k) / scale
	}
	r0, l := binary.Uvarint(src)
	if l <= 0 || r0 >= u {
		return nil, corruptf("dictionary values: bad first rank")
	}
	src = src[l:]
	if src, err = d.readInts(src, zs[:n-1]); err != nil {
		return nil, err
	}
	r := int64(r0)
	vals[0] = dict[r]
	rest := vals[1:]
	for i, z := range zs[:len(rest)] {
		r += unzigzag(z)
		if uint64(r) >= uint64(len(dict)) {
			return nil, corruptf("dictionary values: rank of value %d out of range", i+1)
		}
		rest[i] = dict[r]
	}
	return d.readCorrections(src, vals)
}

// readCorrections adds the corrections stream to the bit patterns of vals.
// Unary (Rice k = 0) and symbol streams, the usual kinds of dense
// corrections, are added as they are decoded; other kinds go through d.zs.
func (d *Decoder) readCorrections(src []byte, vals []float64) ([]byte, error) {
	if len(src) > 0 && src[0] == intsZero {
		return src[1:], nil
	}
	if len(src) >= 2 && src[0] == intsRice && src[1] == 0 {
		return addUnaryCorrections(src[2:], vals)
	}
	if len(src) > 0 && src[0] == intsSymbols {
		return d.addSymbolCorrections(src[1:], vals)
	}
	if len(src) > 0 && src[0] == intsSparse {
		return addSparseCorrections(src[1:], vals)
	}
	zs := grow(d.zs, len(vals))
	d.zs = zs
	src, err := d.readInts(src, zs)
	if err != nil {
		return nil, err
	}
	for i, z := range zs {
		vals[i] = math.Float64frombits(math.Float64bits(vals[i]) + uint64(unzigzag(z)))
	}
	return src, nil
}

// addUnaryCorrections decodes a Rice stream with k = 0 of len(vals)
// corrections and adds each to its value's bit pattern: whole words at a
// time as readUnary does, escapes and the last bytes one at a time.
func addUnaryCorrections(src []byte, vals []float64) ([]byte, error) {
	var bp uint
	var one [1]uint64
	i := 0
	for i < len(vals) {
		start := bp // bit position of the current value's first one bit
		rest := vals[i:]
		j := 0
	words:
		for pos := int(bp / 8); pos+8 <= len(src); pos += 8 {
			base := uint(8 * pos)
			w := binary.LittleEndian.Uint64(src[pos:])
			x := ^w                               // one bit per value's end
			x &^= 1<<(start-min(start, base)) - 1 // none before start
			if cnt := bits.OnesCount64(x); cnt > 0 && j+cnt <= len(rest) && !hasRun32(w) {
				// Every value ending in this word is wanted and none
				// escapes (unless the first, checked): visit only the
				// nonzero ones, the ends right after a one bit; the
				// zeros (most corrections) cost nothing.
				e0 := uint(bits.TrailingZeros64(x))
				q0 := base + e0 - start
				if q0 >= riceEscape {
					break words
				}
				rest[j] = math.Float64frombits(math.Float64bits(rest[j]) + uint64(unzigzag(uint64(q0))))
				for y := x & (x - 1) & (w << 1); y != 0; y &= y - 1 {
					e := uint(bits.TrailingZeros64(y))
					below := x & (1<<e - 1) // the ends before e, e0 among them
					q := e - uint(63-bits.LeadingZeros64(below)) - 1
					idx := j + bits.OnesCount64(below)
					rest[idx] = math.Float64frombits(math.Float64bits(rest[idx]) + uint64(unzigzag(uint64(q))))
				}
				j += cnt
				start = base + uint(64-bits.LeadingZeros64(x))
				if base+64-start >= riceEscape {
					break
				}
				continue
			}
			for ; x != 0; x &= x - 1 {
				end := base + uint(bits.TrailingZeros64(x))
				q := end - start
				if q >= riceEscape || j >= len(rest) {
					break words
				}
				rest[j] = math.Float64frombits(math.Float64bits(rest[j]) + uint64(unzigzag(uint64(q))))
				j++
				start = end + 1
			}
			if base+64-start >= riceEscape {
				break
			}
		}
		i, bp = i+j, start
		if i == len(vals) {
			break
		}
		// An escape, or the last bytes: one value the careful way.
		var err error
		if bp, err = readRiceBits(src, one[:], 0, bp, i); err != nil {
			return nil, err
		}
		vals[i] = math.Float64frombits(math.Float64bits(vals[i]) + uint64(unzigzag(one[0])))
		i++
	}
	return src[(bp+7)/8:], nil
}

// addSparseCorrections decodes a sparse stream (after its kind byte) of
// len(vals) corrections, as readSparse does, and adds the nonzero ones to
// their values' bit patterns.
func addSparseCorrections(src []byte, vals []float64) ([]byte, error) {
	return eachSparse(src, len(vals), func(i int, z uint64) {
		vals[i] = math.Float64frombits(math.Float64bits(vals[i]) + uint64(unzigzag(z)))
	})
}

// hasRun32 reports whether w holds 32 consecutive one bits.
func hasRun32(w uint64) bool {
	w &= w >> 1
	w &= w >> 2
	w &= w >> 4
	w &= w >> 8
	w &= w >> 16
	return w != 0
}

// addSymbolCorrections decodes a symbols stream (after its kind byte) of
// len(vals) corrections and adds each to its value's bit pattern.
func (d *Decoder) addSymbolCorrections(src []byte, vals []float64) ([]byte, error) {
	l, n := binary.Uvarint(src)
	if n <= 0 || l > uint64(len(src)-n) {
		return nil, corruptf("integer stream: bad escape length")
	}
	esc := src[n : n+int(l)]
	src = src[n+int(l):]
	syms := grow(d.syms, len(vals))
	d.syms = syms
	src, err := d.readBytes(src, syms)
	if err != nil {
		return nil, err
	}
	for i, s := range syms {
		z := uint64(s)
		if s == escapeSymbol {
			u, n := binary.Uvarint(esc)
			if n <= 0 || u > ^uint64(0)-escapeSymbol {
				return nil, corruptf("integer stream: bad escape at value %d", i)
			}
			esc = esc[n:]
			z = u + escapeSymbol
		}
		vals[i] = math.Float64frombits(math.Float64bits(vals[i]) + uint64(unzigzag(z)))
	}
	if len(esc) != 0 {
		return nil, corruptf("integer stream: %d unused escape bytes", len(esc))
	}
	return src, nil
}

func (d *Decoder) readXOR(src []byte, vals []float64) ([]byte, error) {
	n := len(vals)
	pl := grow(d.pl, 8*n)
	d.pl = pl
	var err error
	for j := 0; j < 8; j++ {
		if src, err = d.readBytes(src, pl[j*n:(j+1)*n]); err != nil {
			return nil, err
		}
	}
	var prev uint64
	for i := range vals {
		var x uint64
		for j := 0; j < 8; j++ {
			x |= uint64(pl[j*n+i]) << (8 * j)
		}
		prev ^= x
		vals[i] = math.Float64frombits(prev)
	}
	return src, nil
}

func readF32Diff(src []byte, vals []float64) ([]byte, error) {
	if len(src) < 4*len(vals) {
		return nil, corruptf("float32 differences: %d bytes for %d values", len(src), len(vals))
	}
	var acc float32
	for i := range vals {
		d := math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		if i == 0 {
			acc = d
		} else {
			acc += d
		}
		vals[i] = float64(acc)
	}
	return src[4*len(vals):], nil
}
