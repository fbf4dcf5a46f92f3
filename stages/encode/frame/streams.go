package frame

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/klauspost/compress/huff0"
)

// Integer streams hold sequences of unsigned (zigzag) integers whose count the
// reader already knows. Byte streams hold sequences of bytes likewise. Their
// layouts are specified in docs/frame-format.md ("Integer streams", "Byte
// streams").
const (
	intsBitPacked = 0 // miniblocks of 128: width byte, then the values bit-packed
	intsSymbols   = 1 // byte symbols (255 = escape) in a byte stream + escape varints
	intsZero      = 2 // every value is 0; nothing follows
	intsRice      = 3 // byte k, then the values Rice coded with parameter k
	intsSparse    = 4 // the nonzero values only: count, then (index gap, value) pairs

	bytesRaw     = 0 // the bytes as they are
	bytesRLE     = 1 // one byte, repeated
	bytesHuffman = 2 // chunks of up to 65536 bytes, each Huffman coded or stored

	miniBlockLen   = 128
	huffChunkLen   = 1 << 16
	escapeSymbol   = 255
	minHuffmanLen  = 24 // shorter streams are not worth a Huffman table
	maxPackedWidth = 64
)

// appendBitPacked writes zs in miniblocks of 128 values: one byte holding the
// width w (0..64) of the miniblock's largest value, then ceil(m*w/8) bytes with
// the values' low w bits packed least significant bit first.
func appendBitPacked(dst []byte, zs []uint64) []byte {
	for len(zs) > 0 {
		m := min(len(zs), miniBlockLen)
		var or uint64
		for _, z := range zs[:m] {
			or |= z
		}
		w := uint(bits.Len64(or))
		dst = append(dst, byte(w))
		if w > 0 {
			var acc uint64
			var n uint
			for _, z := range zs[:m] {
				acc |= z << n // Go shifts of 64 or more give 0
				if n+w >= 64 {
					dst = binary.LittleEndian.AppendUint64(dst, acc)
					acc = z >> (64 - n)
					n = n + w - 64
				} else {
					n += w
				}
			}
			for ; n > 0; n -= min(n, 8) {
				dst = append(dst, byte(acc))
				acc >>= 8
			}
		}
		zs = zs[m:]
	}
	return dst
}

// readBitPacked fills zs from src and returns the rest of src.
func readBitPacked(src []byte, zs []uint64) ([]byte, error) {
	var pad [miniBlockLen*8 + 16]byte
	for len(zs) > 0 {
		m := min(len(zs), miniBlockLen)
		if len(src) < 1 {
			return nil, corruptf("bit-packed integers: missing miniblock width")
		}
		w := uint(src[0])
		src = src[1:]
		if w > maxPackedWidth {
			return nil, corruptf("bit-packed integers: width %d > 64", w)
		}
		nb := (m*int(w) + 7) / 8
		if len(src) < nb {
			return nil, corruptf("bit-packed integers: miniblock needs %d bytes, %d left", nb, len(src))
		}
		if w == 0 {
			clear(zs[:m])
		} else {
			copy(pad[:], src[:nb])
			clear(pad[nb : nb+16])
			mask := uint64(1)<<w - 1 // w == 64: 1<<64 is 0, so mask is all ones
			pos := uint(0)
			for i := range zs[:m] {
				byteAt := pos >> 3
				shift := pos & 7
				v := binary.LittleEndian.Uint64(pad[byteAt:]) >> shift
				if shift+w > 64 {
					v |= uint64(pad[byteAt+8]) << (64 - shift)
				}
				zs[i] = v & mask
				pos += w
			}
		}
		src = src[nb:]
		zs = zs[m:]
	}
	return src, nil
}

// riceChoice is a Rice parameter and the size estimate chooseRice gave.
type riceChoice struct {
	k    uint
	size int
}

// appendInts writes an integer stream: the smaller of bit-packing and byte
// symbols under a Huffman code. e.riceHint, when set, is chooseRice(zs),
// computed before; appendInts clears it.
func (e *Encoder) appendInts(dst []byte, zs []uint64) []byte {
	hint := e.riceHint
	e.riceHint = nil
	// One pass for the bit-packed size; the counts of nonzero values and
	// of values that need a symbol escape only matter up to a limit.
	var or uint64
	packed := 0
	for start := 0; start < len(zs); start += miniBlockLen {
		mbOr := orOf(zs[start:min(start+miniBlockLen, len(zs))])
		or |= mbOr
		packed += 1 + (min(miniBlockLen, len(zs)-start)*bits.Len64(mbOr)+7)/8
	}
	if or == 0 {
		return append(dst, intsZero)
	}
	if nonzero := countAbove(zs, 0, len(zs)/16); nonzero <= len(zs)/16 {
		// Mostly zeros: every other kind spends at least one bit per zero.
		return appendSparse(dst, zs, nonzero)
	}
	var riceK uint
	var riceSize int
	if hint != nil {
		riceK, riceSize = hint.k, hint.size
	} else {
		riceK, riceSize = chooseRice(zs, &e.riceBuf)
	}
	riceSize++ // the k byte
	if len(zs) >= minHuffmanLen && min(packed, riceSize) > 2+len(zs)/8 &&
		(or < escapeSymbol || countAbove(zs, escapeSymbol-1, len(zs)/8) <= len(zs)/8) {
		mark := len(dst)
		syms := grow(e.syms, len(zs))
		esc := e.esc[:0]
		var hist [4][256]uint32 // four tables: repeated symbols do not wait on each other
		i := 0
		for ; i+4 <= len(zs); i += 4 {
			q := zs[i : i+4 : i+4]
			if q[0]|q[1]|q[2]|q[3] < escapeSymbol { // no escape among the four
				s0, s1, s2, s3 := byte(q[0]), byte(q[1]), byte(q[2]), byte(q[3])
				out := syms[i : i+4 : i+4]
				out[0], out[1], out[2], out[3] = s0, s1, s2, s3
				hist[0][s0]++
				hist[1][s1]++
				hist[2][s2]++
				hist[3][s3]++
				continue
			}
			for j, z := range q {
				s := byte(z)
				if z >= escapeSymbol {
					s = escapeSymbol
					esc = binary.AppendUvarint(esc, z-escapeSymbol)
				}
				syms[i+j] = s
				hist[j][s]++
			}
		}
		for ; i < len(zs); i++ {
			z := zs[i]
			s := byte(z)
			if z >= escapeSymbol {
				s = escapeSymbol
				esc = binary.AppendUvarint(esc, z-escapeSymbol)
			}
			syms[i] = s
			hist[0][s]++
		}
		e.syms, e.esc = syms, esc
		// No prefix code beats the order-0 entropy nor spends less than a
		// bit per symbol, and the code table takes a few bits per symbol
		// present and some per absent one below the largest (measured on
		// real data it takes more than this), so a symbols stream is at
		// least about this long: skip building one that cannot win.
		entropy, present, largest := entropyBitsOf(&hist, len(zs), uint8(min(or, escapeSymbol)))
		codeBits := max(entropy-1, float64(len(zs)))
		lowerBound := 2 + uvarintLen(uint64(len(esc))) + len(esc) + int(codeBits/8) + 3 + present/2 + (largest+1-present)/32
		// Close calls are not worth a Huffman table either: on real data
		// the table and code cost more than the bound by over this margin
		// in nearly every case, and a lost one costs at most the margin.
		best := min(packed, riceSize)
		margin := min(10, best/8)
		if len(esc) < best && lowerBound+margin < best+1 {
			dst = append(dst, intsSymbols)
			dst = binary.AppendUvarint(dst, uint64(len(esc)))
			dst = append(dst, esc...)
			dst = e.appendBytes(dst, syms)
			if len(dst)-mark < min(packed, riceSize)+1 {
				return dst
			}
			dst = dst[:mark]
		}
	}
	if riceSize < packed {
		dst = append(dst, intsRice, byte(riceK))
		return appendRice(dst, zs, riceK)
	}
	dst = append(dst, intsBitPacked)
	return appendBitPacked(dst, zs)
}

// readInts fills zs from an integer stream at the start of src.
func (d *Decoder) readInts(src []byte, zs []uint64) ([]byte, error) {
	if len(zs) == 0 {
		return src, nil
	}
	if len(src) < 1 {
		return nil, corruptf("integer stream: missing kind")
	}
	kind := src[0]
	src = src[1:]
	switch kind {
	case intsBitPacked:
		return readBitPacked(src, zs)
	case intsZero:
		clear(zs)
		return src, nil
	case intsSparse:
		return readSparse(src, zs)
	case intsRice:
		if len(src) < 1 || src[0] > riceMaxK {
			return nil, corruptf("Rice integers: missing or bad parameter")
		}
		return readRice(src[1:], zs, uint(src[0]))
	case intsSymbols:
		l, n := binary.Uvarint(src)
		if n <= 0 || l > uint64(len(src)-n) {
			return nil, corruptf("integer stream: bad escape length")
		}
		esc := src[n : n+int(l)]
		src = src[n+int(l):]
		syms := grow(d.syms, len(zs))
		d.syms = syms
		src, err := d.readBytes(src, syms)
		if err != nil {
			return nil, err
		}
		for i, s := range syms {
			if s != escapeSymbol {
				zs[i] = uint64(s)
				continue
			}
			u, n := binary.Uvarint(esc)
			if n <= 0 || u > ^uint64(0)-escapeSymbol {
				return nil, corruptf("integer stream: bad escape at value %d", i)
			}
			esc = esc[n:]
			zs[i] = u + escapeSymbol
		}
		if len(esc) != 0 {
			return nil, corruptf("integer stream: %d unused escape bytes", len(esc))
		}
		return src, nil
	}
	return nil, corruptf("integer stream: unknown kind %d", kind)
}

// orOf is the bitwise OR of zs.
func orOf(zs []uint64) uint64 {
	var o0, o1, o2, o3 uint64
	i := 0
	for ; i+4 <= len(zs); i += 4 {
		q := zs[i : i+4 : i+4]
		o0 |= q[0]
		o1 |= q[1]
		o2 |= q[2]
		o3 |= q[3]
	}
	for _, z := range zs[i:] {
		o0 |= z
	}
	return o0 | o1 | o2 | o3
}

// countAbove counts the values of zs above t, exactly when there are at most
// limit of them; otherwise it returns some count above limit, having stopped
// early.
func countAbove(zs []uint64, t uint64, limit int) int {
	n := 0
	for start := 0; start < len(zs); start += 64 {
		for _, z := range zs[start:min(start+64, len(zs))] {
			n += int(b2u(z > t))
		}
		if n > limit {
			return n
		}
	}
	return n
}

// uvarintLen is the length of u as a uvarint.
func uvarintLen(u uint64) int { return (bits.Len64(u|1) + 6) / 7 }

// entropyBitsOf is the order-0 entropy in bits of n symbols whose counts are
// the sums of the four histograms: a lower bound on any prefix code's size.
// It also returns the number of distinct symbols and the largest symbol.
// Symbols above top do not occur.
func entropyBitsOf(hist *[4][256]uint32, n int, top uint8) (entropy float64, present, largest int) {
	sum := 0.0 // sum of c*log2(c)
	for s := range int(top) + 1 {
		c := hist[0][s] + hist[1][s] + hist[2][s] + hist[3][s]
		sum += cLog2c(c)
		if c != 0 {
			present++
			largest = s
		}
	}
	return max(0, cLog2c(uint32(n))-sum), present, largest
}

// cLog2cTable holds c*log2(c) for the counts a block of a few thousand
// values has, so that entropy estimates need no logarithm per symbol.
var cLog2cTable = func() (t [4096]float64) {
	for c := 2; c < len(t); c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
}()

// cLog2c is c*log2(c) (0 for c = 0 and 1).
func cLog2c(c uint32) float64 {
	if c < uint32(len(cLog2cTable)) {
		return cLog2cTable[c]
	}
	return float64(c) * math.Log2(float64(c))
}

// b2u is 1 for true and 0 for false, without a branch.
func b2u(b bool) uint64 {
	var u uint64
	if b {
		u = 1
	}
	return u
}

// appendSparse writes the nonzero values of zs with their positions: uvarint
// count, then per nonzero value uvarint(index - previous index - 1) (the first
// index as is) and uvarint(value).
func appendSparse(dst []byte, zs []uint64, nonzero int) []byte {
	dst = append(dst, intsSparse)
	dst = binary.AppendUvarint(dst, uint64(nonzero))
	last := -1
	for i, z := range zs {
		if z != 0 {
			dst = binary.AppendUvarint(dst, uint64(i-last-1))
			dst = binary.AppendUvarint(dst, z)
			last = i
		}
	}
	return dst
}

func readSparse(src []byte, zs []uint64) ([]byte, error) {
	clear(zs)
	return eachSparse(src, len(zs), func(i int, z uint64) { zs[i] = z })
}

// eachSparse decodes a sparse stream of n integers (after its kind byte) and
// calls set with the position and zigzag value of each nonzero one, in order.
func eachSparse(src []byte, n int, set func(i int, z uint64)) ([]byte, error) {
	m, k := binary.Uvarint(src)
	if k <= 0 || m > uint64(n) || m > uint64(len(src))/2 {
		return nil, corruptf("sparse integers: bad count")
	}
	src = src[k:]
	idx := -1
	for j := uint64(0); j < m; j++ {
		gap, k := binary.Uvarint(src)
		if k <= 0 || gap >= uint64(n-idx-1) {
			return nil, corruptf("sparse integers: bad position of value %d", j)
		}
		src = src[k:]
		idx += int(gap) + 1
		z, k := binary.Uvarint(src)
		if k <= 0 || z == 0 {
			return nil, corruptf("sparse integers: bad value %d", j)
		}
		src = src[k:]
		set(idx, z)
	}
	return src, nil
}

// appendBytes writes a byte stream: raw, run-length or Huffman coded.
func (e *Encoder) appendBytes(dst []byte, bs []byte) []byte {
	if len(bs) == 0 {
		return append(dst, bytesRaw)
	}
	same := true
	for _, b := range bs[1:] {
		if b != bs[0] {
			same = false
			break
		}
	}
	if same {
		return append(dst, bytesRLE, bs[0])
	}
	if len(bs) >= minHuffmanLen {
		mark := len(dst)
		dst = append(dst, bytesHuffman)
		for rest := bs; len(rest) > 0; {
			chunk := rest[:min(len(rest), huffChunkLen)]
			rest = rest[len(chunk):]
			out, _, err := huff0.Compress1X(chunk, &e.huff)
			if err != nil || len(out) >= len(chunk) {
				dst = append(dst, 0) // stored chunk
				dst = append(dst, chunk...)
				continue
			}
			dst = binary.AppendUvarint(dst, uint64(len(out)))
			dst = append(dst, out...)
		}
		if len(dst)-mark < 1+len(bs) {
			return dst
		}
		dst = dst[:mark]
	}
	dst = append(dst, bytesRaw)
	return append(dst, bs...)
}

// readBytes fills bs from a byte stream at the start of src.
func (d *Decoder) readBytes(src []byte, bs []byte) ([]byte, error) {
	if len(src) < 1 {
		return nil, corruptf("byte stream: missing kind")
	}
	kind := src[0]
	src = src[1:]
	switch kind {
	case bytesRaw:
		if len(src) < len(bs) {
			return nil, corruptf("byte stream: %d raw bytes wanted, %d left", len(bs), len(src))
		}
		copy(bs, src)
		return src[len(bs):], nil
	case bytesRLE:
		if len(src) < 1 {
			return nil, corruptf("byte stream: missing run byte")
		}
		for i := range bs {
			bs[i] = src[0]
		}
		return src[1:], nil
	case bytesHuffman:
		for off := 0; off < len(bs); {
			c := min(len(bs)-off, huffChunkLen)
			l, n := binary.Uvarint(src)
			if n <= 0 || l > uint64(len(src)-n) {
				return nil, corruptf("byte stream: bad chunk length at value %d", off)
			}
			src = src[n:]
			if l == 0 {
				if len(src) < c {
					return nil, corruptf("byte stream: stored chunk wants %d bytes, %d left", c, len(src))
				}
				copy(bs[off:off+c], src)
				src = src[c:]
				off += c
				continue
			}
			if err := d.huffmanChunk(src[:l], bs[off:off+c]); err != nil {
				return nil, corruptf("byte stream: chunk at value %d: %v", off, err)
			}
			src = src[l:]
			off += c
		}
		return src, nil
	}
	return nil, corruptf("byte stream: unknown kind %d", kind)
}

// huffmanChunk decodes one Huffman chunk of exactly len(dst) bytes.
func (d *Decoder) huffmanChunk(src, dst []byte) error {
	s, rem, err := huff0.ReadTable(src, &d.huff)
	if err != nil {
		return fmt.Errorf("Huffman table: %w", err)
	}
	out, err := s.Decoder().Decompress1X(dst[:0], rem)
	if err != nil {
		return fmt.Errorf("Huffman: %w", err)
	}
	if len(out) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(out), len(dst))
	}
	return nil
}

// grow returns s resized to n, reusing its array when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
