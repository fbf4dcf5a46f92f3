package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// adversarialValues are values that must survive every lossless codec bit for bit.
var adversarialValues = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, -0.1, 30.21, 1e-300, -1e300,
	math.NaN(), math.Float64frombits(0x7ff8000000000001), math.Float64frombits(0xfff8dead0000beef),
	math.Float64frombits(0x7ff0000000000001), // signalling NaN
	math.Inf(1), math.Inf(-1),
	math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 2.2250738585072009e-308, // subnormals
	math.MaxFloat64, -math.MaxFloat64, 1 << 53, -(1 << 53), 1<<53 + 2, 9007199254740993e3,
	math.Pi, math.E, 123456789.123456789, 1e22, 1e23,
}

func TestRoundTripAdversarial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randomFloats := make([]float64, 3000)
	for i := range randomFloats {
		randomFloats[i] = math.Float64frombits(rng.Uint64())
	}
	noisy := make([]float64, 3000) // decimals with one-ulp noise, as CSV exports produce
	for i := range noisy {
		noisy[i] = float64(rng.IntN(100000)) / 1000
		if i%4 == 0 {
			noisy[i] = math.Nextafter(noisy[i], math.Inf(1))
		}
	}
	long := make([]float64, 200_000) // more than one Huffman chunk
	for i := range long {
		long[i] = float64(int(20_00+rng.NormFloat64()*300)) / 100
	}
	mixed := make([]float64, 0, 1000)
	for i := 0; len(mixed) < 1000; i++ {
		mixed = append(mixed, float64(i%97)/4)
		mixed = append(mixed, adversarialValues[i%len(adversarialValues)])
	}
	cases := []struct {
		name string
		ts   []int64
		vals []float64
	}{
		{"empty", nil, nil},
		{"one value", []int64{1_700_000_000_000_000_000}, []float64{21.5}},
		{"one NaN", []int64{-5}, []float64{math.Float64frombits(0x7ff0000000000abc)}},
		{"two values", []int64{math.MinInt64, math.MaxInt64}, []float64{-0.0, 1}},
		{"three values", []int64{10, 5, 10}, []float64{1.5, 1.25, 1.125}},
		{"adversarial values", seqTimestamps(len(adversarialValues), 0, 1e9), adversarialValues},
		{"extreme timestamps", []int64{math.MaxInt64, math.MinInt64, 0, -1, math.MaxInt64, math.MinInt64 + 1, 42}, []float64{1, 2, 3, 4, 5, 6, 7}},
		{"non-monotonic timestamps", randomTimestamps(rng, 1000), mixed},
		{"random bits", randomTimestamps(rng, len(randomFloats)), randomFloats},
		{"noisy decimals", seqTimestamps(len(noisy), 1e18, 5e9), noisy},
		{"constant", seqTimestamps(1000, 0, 1), constant(1000, 21.25)},
		{"zeros", seqTimestamps(1000, 0, 1), constant(1000, 0)},
		{"negative zeros", seqTimestamps(1000, 0, 1), constant(1000, math.Copysign(0, -1))},
		{"NaNs", seqTimestamps(1000, 0, 1), constant(1000, math.NaN())},
		{"long", seqTimestamps(len(long), 0, 1e6), long},
	}
	names := []struct{ node, stream string }{{"", ""}, {"edge-7", "température/°C"}, {strings.Repeat("n", MaxNameLen), strings.Repeat("s", MaxNameLen)}}
	for _, c := range cases {
		for _, codec := range allCodecs {
			t.Run(c.name+"/"+codec.String(), func(t *testing.T) {
				var blocks []Block
				for i, nm := range names {
					blocks = append(blocks, Block{Node: nm.node, Stream: nm.stream, Seq: uint64(i) << (30 * i), Timestamps: c.ts, Values: c.vals})
				}
				roundTrip(t, Options{Codec: codec}, blocks)
			})
		}
	}
}

func seqTimestamps(n int, start, step int64) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = start + int64(i)*step
	}
	return ts
}

func randomTimestamps(rng *rand.Rand, n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = int64(rng.Uint64())
		if i%3 == 0 {
			ts[i] = int64(i) * 1000
		}
	}
	return ts
}

func constant(n int, v float64) []float64 {
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = v
	}
	return vals
}

func TestEncodeRejectsBadBlocks(t *testing.T) {
	enc, err := NewEncoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    Block
	}{
		{"length mismatch", Block{Timestamps: []int64{1, 2}, Values: []float64{1}}},
		{"too many values", Block{Timestamps: make([]int64, MaxCount+1), Values: make([]float64, MaxCount+1)}},
		{"long node name", Block{Node: strings.Repeat("x", MaxNameLen+1)}},
	} {
		dst := []byte("keep")
		out, err := enc.Encode(dst, &c.b)
		if err == nil || string(out) != "keep" {
			t.Errorf("%s: err %v, dst %q; want an error and dst untouched", c.name, err, out)
		}
	}
}

func TestNewEncoderRejectsBadOptions(t *testing.T) {
	for _, opts := range []Options{
		{Codec: 9},
		{MaxError: -1},
		{MaxError: math.NaN()},
		{MaxError: math.Inf(1)},
		{MaxError: 1, RelativeError: true},
		{Codec: CodecF32DiffZlib, MaxError: 0.1},
		{Codec: CodecZlib, Level: 12},
		{Codec: CodecLZ4, Level: 10},
		{Codec: CodecZstd, Level: 23},
	} {
		if _, err := NewEncoder(opts); err == nil {
			t.Errorf("NewEncoder(%+v) succeeded, want an error", opts)
		}
	}
}

// sampleFrames returns one small frame per codec.
func sampleFrames(t testing.TB) map[Codec][]byte {
	b := Block{Node: "n1", Stream: "temp", Seq: 7,
		Timestamps: []int64{1e18, 1e18 + 5e9, 1e18 + 10e9, 1e18 + 15e9, 1e18 + 21e9, 1e18 + 25e9},
		Values:     []float64{30.21, 30.2, 30.19, math.NaN(), 30.19, math.Copysign(0, -1)}}
	out := map[Codec][]byte{}
	for _, codec := range append(allCodecs, CodecF32DiffZlib) {
		enc, err := NewEncoder(Options{Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		f, err := enc.Encode(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		out[codec] = f
	}
	return out
}

func TestCorruptFrames(t *testing.T) {
	dec := NewDecoder()
	var b Block
	frames := map[string][]byte{}
	for codec, frame := range sampleFrames(t) {
		frames[codec.String()] = frame
	}
	for i, blk := range fuzzSeedBlocks() { // every transform and stream kind
		for _, codec := range []Codec{CodecNone, CodecZstd} {
			enc, _ := NewEncoder(Options{Codec: codec})
			frame, err := enc.Encode(nil, &blk)
			if err != nil {
				t.Fatal(err)
			}
			frames[fmt.Sprintf("seed%d/%s", i, codec)] = frame
		}
	}
	for _, maxErr := range []float64{0.01, 1e-9} { // grid-lag and decimal-lag
		enc, _ := NewEncoder(Options{MaxError: maxErr})
		frame, err := enc.Encode(nil, &[]Block{hourlyBlock(300)}[0])
		if err != nil {
			t.Fatal(err)
		}
		frames[fmt.Sprintf("hourly/max%g", maxErr)] = frame
	}
	for name, frame := range frames {
		t.Run(name, func(t *testing.T) {
			if _, err := dec.Decode(frame, &b); err != nil {
				t.Fatalf("intact frame: %v", err)
			}
			n, err := FrameLen(frame)
			if err != nil || n != len(frame) {
				t.Fatalf("FrameLen = %d, %v; want %d", n, err, len(frame))
			}
			fi, _ := parseHeader(frame)
			for l := 0; l < len(frame); l++ {
				cut := bytes.Clone(frame[:l])
				if _, err := dec.Decode(cut, &b); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated to %d bytes: Decode error %v, want ErrCorrupt", l, err)
				}
				if _, err := ReadHeader(cut); !errors.Is(err, ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("truncated to %d bytes: ReadHeader error %v, want ErrCorrupt and io.ErrUnexpectedEOF", l, err)
				}
				_, err := FrameLen(cut)
				if l < fi.headerLen && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated to %d bytes (header %d): FrameLen error %v, want ErrCorrupt", l, fi.headerLen, err)
				}
				if l >= fi.headerLen && err != nil {
					t.Fatalf("truncated to %d bytes (header %d): FrameLen error %v, want the length", l, fi.headerLen, err)
				}
			}
			for i := range frame {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					bad := bytes.Clone(frame)
					bad[i] ^= mask
					if _, err := dec.Decode(bad, &b); !errors.Is(err, ErrCorrupt) {
						t.Fatalf("byte %d ^ %#x: Decode error %v, want ErrCorrupt", i, mask, err)
					}
					if _, err := ReadHeader(bad); !errors.Is(err, ErrCorrupt) {
						t.Fatalf("byte %d ^ %#x: ReadHeader error %v, want ErrCorrupt", i, mask, err)
					}
				}
			}
			// Body damage under a valid checksum must fail cleanly too.
			for i := fi.headerLen; i < len(frame)-4; i++ {
				bad := bytes.Clone(frame)
				bad[i] ^= 0x5a
				fixChecksum(bad)
				_, _ = dec.Decode(bad, &b)
			}
		})
	}
}

func TestConcatenatedFrames(t *testing.T) {
	var stream []byte
	frames := sampleFrames(t)
	for _, codec := range allCodecs {
		stream = append(stream, frames[codec]...)
	}
	dec := NewDecoder()
	var b Block
	for _, codec := range allCodecs {
		n, err := FrameLen(stream)
		if err != nil {
			t.Fatal(err)
		}
		h, err := dec.Decode(stream, &b) // trailing frames are ignored
		if err != nil || h.Codec != codec || n != len(frames[codec]) {
			t.Fatalf("frame %s: header %+v, len %d, err %v", codec, h, n, err)
		}
		stream = stream[n:]
	}
}

func TestNextSplitsFrames(t *testing.T) {
	frames := sampleFrames(t)
	stream := append(append([]byte(nil), frames[CodecZstd]...), frames[CodecLZ4]...)
	first, rest, err := Next(stream)
	if err != nil || !bytes.Equal(first, frames[CodecZstd]) || !bytes.Equal(rest, frames[CodecLZ4]) {
		t.Fatalf("Next = %d, %d bytes, %v; want the two frames", len(first), len(rest), err)
	}
	for cut := 0; cut < len(rest); cut++ {
		if _, _, err := Next(rest[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Next on %d of %d bytes: %v, want ErrCorrupt", cut, len(rest), err)
		}
	}
}

func TestDecodeRejectsUnknownVersion(t *testing.T) {
	frame := sampleFrames(t)[CodecNone]
	frame[4] = 2
	fixChecksum(frame)
	if _, err := ReadHeader(frame); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("error %v, want ErrCorrupt naming version 2", err)
	}
}

// fixChecksum recomputes the checksum of a frame whose header is intact.
func fixChecksum(frame []byte) {
	fi, err := parseHeader(frame)
	if err != nil || len(frame) < fi.frameLen {
		return
	}
	end := fi.headerLen + fi.payloadLen
	binary.LittleEndian.PutUint32(frame[end:], crc32.Checksum(frame[:end], castagnoli))
}

func TestParseCodec(t *testing.T) {
	for _, c := range append(allCodecs, CodecF32DiffZlib) {
		got, err := ParseCodec(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := ParseCodec("brotli"); err == nil {
		t.Error("ParseCodec(brotli) succeeded")
	}
}

func TestEncodeAllocations(t *testing.T) {
	vals := make([]float64, 1000)
	for i := range vals {
		vals[i] = float64(2000+i%37) / 100
	}
	b := Block{Node: "n", Stream: "s", Timestamps: seqTimestamps(1000, 0, 5e9), Values: vals}
	for _, codec := range append(allCodecs, CodecF32DiffZlib) {
		enc, _ := NewEncoder(Options{Codec: codec})
		dec := NewDecoder()
		buf, _ := enc.Encode(nil, &b)
		var out Block
		_, _ = dec.Decode(buf, &out)
		allocs := testing.AllocsPerRun(20, func() {
			buf, _ = enc.Encode(buf[:0], &b)
		})
		if allocs != 0 {
			t.Errorf("%s: Encode allocates %.1f times per call, want 0", codec, allocs)
		}
		allocs = testing.AllocsPerRun(20, func() { _, _ = dec.Decode(buf, &out) })
		t.Logf("%s: Decode allocates %.1f times per call", codec, allocs)
	}
}

// TestPeriodicSignals: a periodic signal must not fool the decimal detection
// (which samples the block), and the back ends must find the repetition.
func TestPeriodicSignals(t *testing.T) {
	for _, period := range []int{2, 16, 64, 128, 200} {
		vals := make([]float64, 4096)
		for i := range vals {
			vals[i] = math.Round(2000*math.Sin(2*math.Pi*float64(i%period)/float64(period))) / 100
		}
		blocks := []Block{{Timestamps: seqTimestamps(len(vals), 0, 1e9), Values: vals}}
		none := float64(8*roundTrip(t, Options{Codec: CodecNone}, blocks)) / float64(len(vals))
		zstd := float64(8*roundTrip(t, Options{Codec: CodecZstd}, blocks)) / float64(len(vals))
		if none > 12 || zstd > 1 {
			t.Errorf("period %d: %.2f bits/value with none, %.2f with zstd; want <= 12 and <= 1", period, none, zstd)
		}
	}
}
