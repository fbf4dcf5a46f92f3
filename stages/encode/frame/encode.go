package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Encoder turns Blocks into frames. It is reusable and not safe for concurrent
// use; after the first few calls Encode allocates nothing.
type Encoder struct {
	opts Options

	body       []byte                  // transformed block, before the back end
	alt        []byte                  // an alternative value section being tried
	comp       []byte                  // back-end output
	zs         []uint64                // zigzag integers
	ks         []int64                 // scaled integers
	kDeltas    []uint64                // zigzag(ks[i] - ks[i-1]), for i >= 1 (slot 0 is junk)
	cs         []uint64                // zigzag corrections
	ncorr      int                     // nonzero corrections in cs
	kLo, kHi   int64                   // smallest and largest of ks
	decimals   int                     // the decimal count appendLossless chose last
	syms       []byte                  // byte symbols of an integer stream
	esc        []byte                  // escape varints of an integer stream
	pl         []byte                  // XOR byte planes
	rank       []int32                 // dictionary rank of each scaled integer (offset by the smallest)
	rankDeltas []uint64                // zigzag rank deltas of the dictionary transform
	dictLo     int64                   // smallest scaled integer of the dictionary transform
	gaps       []uint64                // gaps - 1 between the sorted distinct scaled integers
	present    []uint64                // bit sets of the scaled integers present, from the smallest
	gapsRice   riceChoice              // chooseRice of gaps, from dictionaryPays
	riceHint   *riceChoice             // chooseRice of the next stream appendInts writes, if known
	riceBuf    [2 * riceSamples]uint64 // chooseRice's samples
	lags       [len(lagPeriods)]int    // candidate lags of the block (lagCandidates)
	nlags      int                     // how many of lags are set
	lagRes     []uint64                // zigzag residuals of the lag transforms
	lagBuf     []byte                  // a lag section being tried

	huff huff0.Scratch

	zlibBuf bytes.Buffer
	zlibW   *zlib.Writer
	lz4Fast lz4.Compressor
	lz4HC   *lz4.CompressorHC
	zstdW   *zstd.Encoder
}

// NewEncoder returns an Encoder for opts.
func NewEncoder(opts Options) (*Encoder, error) {
	if opts.Codec > CodecF32DiffZlib {
		return nil, fmt.Errorf("options: codec %d unknown", opts.Codec)
	}
	if math.IsNaN(opts.MaxError) || math.IsInf(opts.MaxError, 0) || opts.MaxError < 0 {
		return nil, fmt.Errorf("options: max error %v must be a finite number >= 0", opts.MaxError)
	}
	if opts.RelativeError && opts.MaxError >= 1 {
		return nil, fmt.Errorf("options: relative max error %v must be < 1", opts.MaxError)
	}
	if opts.Codec == CodecF32DiffZlib && opts.MaxError > 0 {
		return nil, fmt.Errorf("options: max error is not supported with codec %s", opts.Codec)
	}
	e := &Encoder{opts: opts}
	e.huff.Reuse = huff0.ReusePolicyNone
	var err error
	switch opts.Codec {
	case CodecZlib, CodecF32DiffZlib:
		level := zlibDefaultLevel
		switch {
		case opts.Codec == CodecF32DiffZlib:
			level = 6 // the article's method, exactly
		case opts.Level != 0:
			level = opts.Level
		}
		if e.zlibW, err = zlib.NewWriterLevel(&e.zlibBuf, level); err != nil {
			return nil, fmt.Errorf("options: zlib level %d: %w", opts.Level, err)
		}
	case CodecLZ4:
		if opts.Level < 0 || opts.Level > 9 {
			return nil, fmt.Errorf("options: lz4 level %d out of range 0..9", opts.Level)
		}
		if opts.Level > 0 {
			e.lz4HC = &lz4.CompressorHC{Level: lz4.CompressionLevel(1 << (8 + opts.Level))}
		}
	case CodecZstd:
		level := zstd.SpeedDefault
		if opts.Level != 0 {
			if opts.Level < 1 || opts.Level > 22 {
				return nil, fmt.Errorf("options: zstd level %d out of range 1..22", opts.Level)
			}
			level = zstd.EncoderLevelFromZstd(opts.Level)
		}
		e.zstdW, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
		if err != nil {
			return nil, fmt.Errorf("options: zstd: %w", err)
		}
	}
	return e, nil
}

// Encode appends exactly one frame holding b to dst.
func (e *Encoder) Encode(dst []byte, b *Block) ([]byte, error) {
	n := len(b.Values)
	switch {
	case len(b.Timestamps) != n:
		return dst, fmt.Errorf("encode %s/%s seq %d: %d timestamps for %d values", b.Node, b.Stream, b.Seq, len(b.Timestamps), n)
	case n > MaxCount:
		return dst, fmt.Errorf("encode %s/%s seq %d: %d values exceed the frame limit %d", b.Node, b.Stream, b.Seq, n, MaxCount)
	case len(b.Node) > MaxNameLen || len(b.Stream) > MaxNameLen:
		return dst, fmt.Errorf("encode: node or stream name longer than %d bytes", MaxNameLen)
	}
	body := e.appendTimestamps(e.body[:0], b.Timestamps)
	e.nlags = 0
	if e.opts.MaxError > 0 { // the lag transforms: bounded-error mode only (see lag.go)
		e.lags, e.nlags = lagCandidates(b.Timestamps)
	}
	var transform uint8
	lossy := e.opts.MaxError > 0
	switch {
	case e.opts.Codec == CodecF32DiffZlib:
		transform, lossy = transformF32Diff, true
		body = appendF32Diff(body, b.Values)
	case n == 0:
	case e.opts.MaxError > 0:
		body, transform = e.appendBounded(body, b.Values)
	default:
		body, transform = e.appendLossless(body, b.Values)
	}
	e.body = body
	if uint64(len(body)) > maxBodyLen(n) {
		return dst, fmt.Errorf("encode %s/%s seq %d: body of %d bytes exceeds the limit (internal error)", b.Node, b.Stream, b.Seq, len(body))
	}
	payload, err := e.compress(body)
	if err != nil {
		return dst, fmt.Errorf("encode %s/%s seq %d: %s: %w", b.Node, b.Stream, b.Seq, e.opts.Codec, err)
	}
	if len(payload) >= len(body) {
		payload = body // stored: the back end did not help
	}

	start := len(dst)
	flags := transform << 1
	if lossy {
		flags |= flagLossy
	}
	dst = append(dst, frameMagic[:]...)
	dst = append(dst, Version, byte(e.opts.Codec), flags)
	dst = binary.AppendUvarint(dst, uint64(len(b.Node)))
	dst = append(dst, b.Node...)
	dst = binary.AppendUvarint(dst, uint64(len(b.Stream)))
	dst = append(dst, b.Stream...)
	dst = binary.AppendUvarint(dst, b.Seq)
	var first int64
	if n > 0 {
		first = b.Timestamps[0]
	}
	dst = binary.AppendUvarint(dst, zigzag(first))
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	dst = append(dst, payload...)
	if len(dst)-start+4 > MaxFrameSize {
		return dst[:start], fmt.Errorf("encode %s/%s seq %d: frame of %d bytes exceeds %d; use smaller blocks", b.Node, b.Stream, b.Seq, len(dst)-start+4, MaxFrameSize)
	}
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	return dst, nil
}

// appendTimestamps writes the timestamp section: the first delta as a zigzag
// varint, then the deltas of deltas as an integer stream.
func (e *Encoder) appendTimestamps(dst []byte, ts []int64) []byte {
	if len(ts) < 2 {
		return dst
	}
	prev := ts[1] - ts[0]
	dst = binary.AppendUvarint(dst, zigzag(prev))
	if len(ts) < 3 {
		return dst
	}
	i := 2
	for i < len(ts) && ts[i]-ts[i-1] == prev {
		i++
	}
	if i == len(ts) { // a fixed period
		return append(dst, intsZero)
	}
	// Up to i the deltas of deltas are 0; after it each is t[i] - 2t[i-1] +
	// t[i-2] (wrapping like the deltas), with no chain from one to the next.
	zs := grow(e.zs, len(ts)-2)
	clear(zs[:i-2])
	for j := i; j < len(ts); j++ {
		zs[j-2] = zigzag(ts[j] - 2*ts[j-1] + ts[j-2])
	}
	e.zs = zs
	return e.appendInts(dst, zs)
}

// appendLossless writes the value section of a bit-exact frame: decimal-scaled
// integers, as deltas or as ranks in the block's distinct integers, or XOR byte
// planes when they are smaller.
func (e *Encoder) appendLossless(dst []byte, vals []float64) ([]byte, uint8) {
	mark := len(dst)
	d := chooseDecimals(vals, decimalSamples)
	ncorr := e.scaleValues(vals, pow10[d], 0, false)
	if ncorr > len(vals)/2 && len(vals) > decimalSamples {
		// The sample may have missed what most values need: look at them all.
		if d2 := chooseDecimals(vals, len(vals)); d2 != d {
			d = d2
			ncorr = e.scaleValues(vals, pow10[d], 0, false)
		}
	}
	e.decimals = d
	switch e.dictionaryPays() {
	case dictYes:
		return e.appendDictionary(dst, d), transformDict
	case dictMaybe: // too close to call: code both
		alt := e.appendDictionary(e.alt[:0], d)
		e.alt = alt
		var transform uint8
		dst, transform = e.appendScaledBest(dst, []byte{byte(d)}, transformDecimal, transformDecimalLag)
		if len(alt) < len(dst)-mark {
			return append(dst[:mark], alt...), transformDict
		}
		return dst, transform
	}
	dst, transform := e.appendScaledBest(dst, []byte{byte(d)}, transformDecimal, transformDecimalLag)
	if ncorr*8 <= len(vals) || len(dst)-mark < 5*len(vals) {
		return dst, transform
	}
	alt := e.appendXOR(e.alt[:0], vals)
	e.alt = alt
	if len(alt) < len(dst)-mark {
		return append(dst[:mark], alt...), transformXOR
	}
	return dst, transform
}

// maxDictRange bounds the span of scaled integers (max - min + 1) for which the
// dictionary transform is considered, keeping its rank table small.
const maxDictRange = 1 << 16

// dictSamples is about how many consecutive pairs dictionaryPays looks at.
const dictSamples = 256

// Answers of dictionaryPays.
const (
	dictNo    = iota // the decimal transform is better or the dictionary does not apply
	dictYes          // the dictionary is clearly smaller
	dictMaybe        // the estimates are within 3%: code both and compare
)

// dictionaryPays tells whether the dictionary transform is expected to be
// smaller than plain deltas for the scaled integers in e.ks. It is considered
// only when the block's distinct integers leave gaps (at most 60% of the
// integers between the smallest and the largest occur), as values converted
// from a sensor's raw counts by a nonlinear formula do: ranks in the sorted
// distinct integers then have smaller, more regular deltas than the integers.
// The decision compares order-0 entropy estimates, so that only the winner is
// entropy coded; the estimates look at a sample of consecutive pairs. It
// leaves the rank table in e.rank, the gaps between distinct integers in
// e.gaps and the smallest integer in e.dictLo for appendDictionary.
func (e *Encoder) dictionaryPays() int {
	ks := e.ks
	n := len(ks)
	if n < 64 {
		return dictNo
	}
	lo, hi := e.kLo, e.kHi
	span := uint64(hi - lo)
	if span >= maxDictRange || span >= uint64(8*n) {
		return dictNo
	}
	// Count the distinct integers first, in a bit set of the span: most
	// blocks stop here.
	// Four sets take turns, so that marking neighbours in one word does not
	// wait on the previous mark; they are merged into the first.
	words := int(span/64) + 1
	sets := grow(e.present, 4*words)
	e.present = sets
	clear(sets)
	i := 0
	for ; i+4 <= n; i += 4 {
		q := ks[i : i+4 : i+4]
		o0, o1, o2, o3 := uint64(q[0]-lo), uint64(q[1]-lo), uint64(q[2]-lo), uint64(q[3]-lo)
		sets[o0/64] |= 1 << (o0 % 64)
		sets[words+int(o1/64)] |= 1 << (o1 % 64)
		sets[2*words+int(o2/64)] |= 1 << (o2 % 64)
		sets[3*words+int(o3/64)] |= 1 << (o3 % 64)
	}
	for _, k := range ks[i:] {
		o := uint64(k - lo)
		sets[o/64] |= 1 << (o % 64)
	}
	present := sets[:words]
	for w := range present {
		present[w] |= sets[words+w] | sets[2*words+w] | sets[3*words+w]
	}
	distinct := 0
	for _, w := range present {
		distinct += bits.OnesCount64(w)
	}
	if uint64(distinct)*10 > (span+1)*6 {
		return dictNo
	}
	// Ranks and gaps, visiting the present integers only: the rank table
	// is written and read at those alone.
	rank := grow(e.rank, int(span)+1)
	e.rank = rank
	gaps := grow(e.gaps, distinct-1)
	r, last := int32(0), 0
	for wi, w := range present {
		for ; w != 0; w &= w - 1 {
			i := 64*wi + bits.TrailingZeros64(w)
			rank[i] = r
			if r > 0 {
				gaps[r-1] = uint64(i - last - 1)
			}
			last = i
			r++
		}
	}
	e.gaps, e.dictLo = gaps, lo
	gk, gapBytes := chooseRice(gaps, &e.riceBuf) // the gaps cost at most about this much
	e.gapsRice = riceChoice{gk, gapBytes}
	dictBits := float64(8 * (gapBytes + 6))
	// Estimate both from a sample of consecutive pairs: the histograms of
	// their byte symbols, in one loop.
	stride := max(1, (n-1)/dictSamples)
	samples := (n - 2 + stride) / stride // i = 1, 1+stride, ... < n
	kDeltas := e.kDeltas[:n]
	var histD, histR [256]int32 // the samples are few: tables cleared cheaply
	var extraD, extraR int      // escape bits
	var orD, orR uint64         // at least the largest symbols
	for j := range samples {
		i := 1 + j*stride
		zd := kDeltas[i]
		zr := zigzag(int64(rank[ks[i]-lo]) - int64(rank[ks[i-1]-lo]))
		if zd >= escapeSymbol {
			extraD += 8 * ((bits.Len64(zd-escapeSymbol) + 6) / 7)
			zd = escapeSymbol
		}
		if zr >= escapeSymbol {
			extraR += 8 * ((bits.Len64(zr-escapeSymbol) + 6) / 7)
			zr = escapeSymbol
		}
		histD[zd]++
		histR[zr]++
		orD |= zd
		orR |= zr
	}
	scale := float64(n-1) / float64(samples)
	withDict := scale*entropyBits(&histR, orR, extraR, samples) + dictBits
	without := scale * entropyBits(&histD, orD, extraD, samples)
	switch {
	case withDict < 0.97*without:
		return dictYes
	case withDict < 1.03*without:
		return dictMaybe
	}
	return dictNo
}

// entropyBits estimates the size in bits of n values coded as byte symbols
// under an order-0 code, from the histogram of their symbols (none above or)
// and the bits their escapes take: the entropy, the escapes and the code
// table.
func entropyBits(hist *[256]int32, or uint64, extra, n int) float64 {
	// The entropy is n*log2(n) - sum of c*log2(c) over the symbols.
	total := float64(extra) + cLog2c(uint32(n))
	largest, present := 0, 0
	for s, c := range hist[:min(or, escapeSymbol)+1] {
		if c > 0 {
			total -= cLog2c(uint32(c))
			largest = s
			present++
		}
	}
	// Code table: about 4 bits per symbol present, half a bit per absent one.
	return total + float64(4*present) + float64(largest+1-present)/2
}

// appendDictionary writes the dictionary section for the scaled integers and
// corrections in e.ks and e.cs (after dictionaryPays): D, the number of
// distinct integers, the smallest, the gaps - 1 between sorted distinct
// integers, the first rank, the rank deltas, the corrections.
func (e *Encoder) appendDictionary(dst []byte, d int) []byte {
	ks, rank, lo := e.ks, e.rank, e.dictLo
	dst = append(dst, byte(d))
	dst = binary.AppendUvarint(dst, uint64(len(e.gaps)+1))
	dst = binary.AppendUvarint(dst, zigzag(lo))
	e.riceHint = &e.gapsRice
	dst = e.appendInts(dst, e.gaps)
	prev := int64(rank[ks[0]-lo])
	dst = binary.AppendUvarint(dst, uint64(prev))
	rankDeltas := grow(e.rankDeltas, len(ks)-1)
	for i, k := range ks[1:] {
		r := int64(rank[k-lo])
		rankDeltas[i] = zigzag(r - prev)
		prev = r
	}
	e.rankDeltas = rankDeltas
	dst = e.appendInts(dst, rankDeltas)
	return e.appendCorrections(dst)
}

// appendBounded writes the value section of a bounded-error frame: the smaller
// of the lossless section and a grid of integers.
func (e *Encoder) appendBounded(dst []byte, vals []float64) ([]byte, uint8) {
	mark := len(dst)
	dst, transform := e.appendLossless(dst, vals)
	step := 2 * e.opts.MaxError
	if e.opts.RelativeError {
		minAbs := math.Inf(1)
		for _, v := range vals {
			if a := math.Abs(v); a != 0 && a < minAbs {
				minAbs = a
			}
		}
		step *= minAbs
	}
	step *= 1 - 1.0/(1<<20) // margin so rounding never reaches the bound
	if !(step > 0) || math.IsInf(step, 0) {
		return dst, transform
	}
	steps := [2]float64{step, 0}
	// Values on a decimal lattice coarser than the error grid (percentages
	// with three decimals under a bound of 2.6e-5) may cost less as grid
	// integers at the lattice's step: float noise such as 36.806999999999995
	// is within the bound there, so such values need no correction.
	if lattice := 1 / pow10[e.decimals]; lattice > step {
		steps[1] = lattice
	}
	for _, step := range steps {
		if step == 0 {
			continue
		}
		e.scaleValues(vals, step, e.opts.MaxError, true)
		var head [8]byte
		binary.LittleEndian.PutUint64(head[:], math.Float64bits(step))
		alt, altTransform := e.appendScaledBest(e.alt[:0], head[:], transformGrid, transformGridLag)
		e.alt = alt
		if len(alt) < len(dst)-mark {
			dst, transform = append(dst[:mark], alt...), altTransform
		}
	}
	return dst, transform
}

// scaleValues computes the integers of the decimal (grid=false: v = k /
// scale) and grid (grid=true: v ≈ k * scale) transforms into e.ks (their
// zigzag deltas into e.kDeltas), and per
// value the correction that makes it exact (the difference of the bit
// patterns, mostly 0) into e.cs, zigzag coded. In grid mode values within the
// error bound get no correction. It returns the number of nonzero corrections.
func (e *Encoder) scaleValues(vals []float64, scale, maxErr float64, grid bool) int {
	if !grid {
		return e.scaleDecimal(vals, scale)
	}
	n := len(vals)
	ks := grow(e.ks, n)
	cs := grow(e.cs, n)
	kDeltas := grow(e.kDeltas, n)
	var prev int64
	relative := e.opts.RelativeError
	ncorr := 0
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, v := range vals {
		var s float64
		if grid {
			s = v / scale
		} else {
			s = v * scale
		}
		k := prev
		if math.Abs(s) < 1<<53 {
			k = int64(math.RoundToEven(s))
		}
		var r float64
		if grid {
			r = float64(k) * scale
			bound := maxErr
			if relative {
				bound = maxErr * math.Abs(v) * (1 - 1.0/(1<<40))
			}
			if math.Abs(r-v) < bound {
				r = v // close enough: no correction
			}
		} else {
			r = float64(k) / scale
		}
		c := math.Float64bits(v) - math.Float64bits(r)
		ncorr += int(b2u(c != 0))
		cs[i] = c // zigzag coded below, when there are corrections at all
		ks[i] = k
		kDeltas[i] = zigzag(k - prev)
		lo, hi = min(lo, k), max(hi, k)
		prev = k
	}
	if ncorr > 0 {
		for i, c := range cs {
			cs[i] = zigzag(int64(c))
		}
	}
	e.ks, e.kDeltas, e.cs, e.ncorr, e.kLo, e.kHi = ks, kDeltas, cs, ncorr, lo, hi
	return ncorr
}

// appendCorrections writes the corrections stream from e.cs.
func (e *Encoder) appendCorrections(dst []byte) []byte {
	if e.ncorr == 0 {
		return append(dst, intsZero)
	}
	return e.appendInts(dst, e.cs)
}

// scaleDecimal is scaleValues for the decimal transform, in a loop of its
// own (four values at a time with AVX2 where the CPU has it): the integers
// and corrections of vals at scale 10^D, the deltas and the range of the
// integers. Rounding adds and subtracts 1.5 × 2^52, which rounds to the
// nearest even integer as math.RoundToEven does, for |s| < 2^51; larger
// products take math.RoundToEven.
func (e *Encoder) scaleDecimal(vals []float64, scale float64) int {
	n := len(vals)
	ks := grow(e.ks, n)[:n]
	cs := grow(e.cs, n)[:n]
	kDeltas := grow(e.kDeltas, n)[:n]
	const round = 3 << 51 // 1.5 × 2^52: adding it leaves the integer in the low bits
	ncorr := 0
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	var prev int64
	for i := 0; i < n; {
		if haveScaleAsm && n-i >= 4 {
			lohi := [8]int64{lo, lo, lo, lo, hi, hi, hi, hi}
			done, nc := scaleDecimalAVX2(&vals[i], (n-i)&^3, scale, &ks[i], &cs[i], &kDeltas[i], prev, &lohi)
			lo, hi = min(lo, lohi[0], lohi[1], lohi[2], lohi[3]), max(hi, lohi[4], lohi[5], lohi[6], lohi[7])
			i += done
			ncorr += nc
			if i > 0 {
				prev = ks[i-1]
			}
		}
		// The group of four the vector loop left, or the last values.
		for end := min(n, i+4); i < end; i++ {
			v := vals[i]
			s := v * scale
			var k int64
			if math.Abs(s) < 1<<51 {
				k = int64(math.Float64bits(s+round) - math.Float64bits(round))
			} else {
				k = scaleBig(s, prev)
			}
			c := zigzag(int64(math.Float64bits(v) - math.Float64bits(float64(k)/scale)))
			ncorr += int(b2u(c != 0))
			cs[i] = c
			ks[i] = k
			kDeltas[i] = zigzag(k - prev)
			lo, hi = min(lo, k), max(hi, k)
			prev = k
		}
	}
	e.ks, e.kDeltas, e.cs, e.ncorr, e.kLo, e.kHi = ks, kDeltas, cs, ncorr, lo, hi
	return ncorr
}

// scaleBig is the integer of a scaled value s with |s| >= 2^51 (or NaN): s
// rounded to even below 2^53, the previous integer prev above.
func scaleBig(s float64, prev int64) int64 {
	if math.Abs(s) < 1<<53 {
		return int64(math.RoundToEven(s))
	}
	return prev
}

// appendScaledInts writes the first integer, the deltas and the corrections
// from e.ks, e.kDeltas and e.cs.
func (e *Encoder) appendScaledInts(dst []byte) []byte {
	ks := e.ks
	n := len(ks)
	dst = binary.AppendUvarint(dst, zigzag(ks[0]))
	if n > 1 {
		dst = e.appendInts(dst, e.kDeltas[1:n])
	}
	return e.appendCorrections(dst)
}

// appendXOR writes each value's bits XOR the previous value's bits as eight byte
// streams, least significant byte first.
func (e *Encoder) appendXOR(dst []byte, vals []float64) []byte {
	n := len(vals)
	pl := grow(e.pl, 8*n)
	e.pl = pl
	var prev uint64
	for i, v := range vals {
		u := math.Float64bits(v)
		x := u ^ prev
		prev = u
		for j := 0; j < 8; j++ {
			pl[j*n+i] = byte(x >> (8 * j))
		}
	}
	for j := 0; j < 8; j++ {
		dst = e.appendBytes(dst, pl[j*n:(j+1)*n])
	}
	return dst
}

// appendF32Diff writes the reference article's lossy value section: float32 of
// the first value, then float32 differences of the float32 values.
func appendF32Diff(dst []byte, vals []float64) []byte {
	var prev float32
	for i, v := range vals {
		f := float32(v)
		d := f
		if i > 0 {
			d = f - prev
		}
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(d))
		prev = f
	}
	return dst
}

const maxDecimals = 18

var pow10 = func() (p [maxDecimals + 1]float64) {
	p[0] = 1
	for i := 1; i <= maxDecimals; i++ {
		p[i] = p[i-1] * 10 // exact up to 1e22
	}
	return p
}()

// decimalExact reports whether v == float64(round(v*10^d)) / 10^d bit for bit.
func decimalExact(v float64, d int) bool {
	s := v * pow10[d]
	if !(math.Abs(s) < 1<<53) {
		return false
	}
	return math.Float64bits(float64(int64(math.RoundToEven(s)))/pow10[d]) == math.Float64bits(v)
}

// fastMod is a % d for d < 2^32 and m = 2^64 / d rounded up (0 for d = 1),
// by Lemire's method: the low 64 bits of m × a hold the fraction a / d, and
// multiplying them by d gives the remainder in the high 64 bits.
func fastMod(a uint32, m uint64, d int) int {
	hi, _ := bits.Mul64(m*uint64(a), uint64(d))
	return int(hi)
}

// decimalSamples is about how many values of a block chooseDecimals examines;
// the values it skips are still encoded exactly (with a correction if needed).
const decimalSamples = 128

// chooseDecimals picks the number of decimals for the block: each sampled value's
// smallest exact decimal count is found (starting from the previous value's and
// looking at most 4 decimals further, except until one value was exact), then the
// count minimising (inexact values × 64 bits + values × 3.32 bits per decimal)
// wins.
func chooseDecimals(vals []float64, samples int) int {
	var cnt [maxDecimals + 2]int
	guess, limit := 0, maxDecimals
	found := false // whether a sampled value was exact at some count
	// Until one is, the first few values are searched in full: a block
	// opening with float noise (100.00946009999998) would otherwise look
	// for at most 4 decimals ever after.
	const fullSearches = 8
	stride := max(1, len(vals)/samples)
	// The offsets below are taken modulo stride by multiplications
	// (Lemire's fastmod, exact for 32-bit operands): no division per sample.
	modM := ^uint64(0)/uint64(stride) + 1
	for j := 0; j*stride < len(vals); j++ {
		// One value from each stretch of stride values, at a pseudo-random
		// offset so that periodic signals are not sampled at one phase.
		i := j*stride + fastMod(uint32(j)*2654435761>>16, modM, stride)
		if i >= len(vals) {
			break
		}
		v := vals[i]
		d := guess
		if decimalExact(v, d) {
			for d > 0 && decimalExact(v, d-1) {
				d--
			}
		} else {
			d++
			for d <= limit && !decimalExact(v, d) {
				d++
			}
			if d > limit {
				d = maxDecimals + 1
			}
		}
		cnt[d]++
		if d <= maxDecimals {
			guess, found = d, true
		}
		if found || j >= fullSearches {
			limit = min(guess+4, maxDecimals)
		}
	}
	best, bestCost := 0, math.Inf(1)
	total := 0
	for _, c := range cnt {
		total += c
	}
	exc := total
	for d := 0; d <= maxDecimals; d++ {
		exc -= cnt[d]
		cost := float64(exc)*64 + float64(total)*3.32*float64(d)
		if cost < bestCost {
			best, bestCost = d, cost
		}
	}
	return best
}

var errIncompressible = errors.New("incompressible")

// zlibDefaultLevel is the zlib back end's level when Options.Level is 0.
// The frame transform has already removed what DEFLATE's longer match
// searches look for: on the reference data levels 1 to 9 give frames of the
// same size, and on exactly repeating synthetic streams level 6 saves at
// most 11 bytes a frame over level 1, while it costs 1.3 to 1.5 times the
// encode time on the noisiest streams (docs/benchmarks.md).
const zlibDefaultLevel = 1

// compress runs the back end over body.
func (e *Encoder) compress(body []byte) ([]byte, error) {
	switch e.opts.Codec {
	case CodecNone:
		return body, nil
	case CodecZlib, CodecF32DiffZlib:
		e.zlibBuf.Reset()
		e.zlibW.Reset(&e.zlibBuf)
		if _, err := e.zlibW.Write(body); err != nil {
			return nil, err
		}
		if err := e.zlibW.Close(); err != nil {
			return nil, err
		}
		return e.zlibBuf.Bytes(), nil
	case CodecLZ4:
		e.comp = grow(e.comp, lz4.CompressBlockBound(len(body)))
		var n int
		var err error
		if e.lz4HC != nil {
			n, err = e.lz4HC.CompressBlock(body, e.comp)
		} else {
			n, err = e.lz4Fast.CompressBlock(body, e.comp)
		}
		if err != nil {
			return nil, err
		}
		if n == 0 && len(body) > 0 {
			return nil, errIncompressible
		}
		return e.comp[:n], nil
	case CodecZstd:
		e.comp = e.zstdW.EncodeAll(body, e.comp[:0])
		return e.comp, nil
	}
	return nil, fmt.Errorf("codec %d unknown", e.opts.Codec)
}
