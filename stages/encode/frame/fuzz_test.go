package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder, as they are and with the
// checksum made valid so the payload parsers are reached: no panic, and every
// error wraps ErrCorrupt.
func FuzzDecode(f *testing.F) {
	for _, frame := range sampleFrames(f) {
		f.Add(frame)
	}
	f.Add([]byte("EFRM"))
	f.Add([]byte{})
	for _, b := range fuzzSeedBlocks() {
		for _, opts := range []Options{{}, {Codec: CodecZstd}, {MaxError: 0.01}} {
			enc, _ := NewEncoder(opts)
			frame, err := enc.Encode(nil, &b)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frame)
		}
	}
	dec := NewDecoder()
	var b Block
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fix := range []bool{false, true} {
			if fix {
				data = bytes.Clone(data)
				fixChecksum(data)
			}
			h, err := dec.Decode(data, &b)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decode error %v does not wrap ErrCorrupt", err)
				}
				continue
			}
			if h.Count != len(b.Values) || len(b.Values) != len(b.Timestamps) {
				t.Fatalf("header count %d, %d values, %d timestamps", h.Count, len(b.Values), len(b.Timestamps))
			}
			n, err := FrameLen(data)
			if err != nil || n > len(data) {
				t.Fatalf("decoded frame but FrameLen = %d, %v", n, err)
			}
			if _, err := ReadHeader(data); err != nil {
				t.Fatalf("decoded frame but ReadHeader: %v", err)
			}
		}
	})
}

// FuzzRoundTrip encodes arbitrary values and timestamps (16 bytes each) with
// the codec and mode picked by the first byte and checks the decoded block.
func FuzzRoundTrip(f *testing.F) {
	seed := func(mode byte, vals []float64, ts []int64) []byte {
		out := []byte{mode}
		for i, v := range vals {
			out = binary.LittleEndian.AppendUint64(out, uint64(ts[i]))
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
		return out
	}
	f.Add(seed(0, adversarialValues, seqTimestamps(len(adversarialValues), 0, 1e9)))
	f.Add(seed(3, []float64{30.21, 30.2, 30.19, 30.19}, []int64{0, 5e9, 10e9, 15e9}))
	f.Add(seed(0x10|1, []float64{1.5, -2.25, 1e9, math.NaN()}, []int64{-1, 0, 1, math.MaxInt64}))
	f.Add(seed(0x20|2, []float64{0.001, 0.002, 100}, []int64{3, 2, 1}))
	for i, b := range fuzzSeedBlocks() {
		f.Add(seed(byte(i), b.Values, b.Timestamps))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		mode := data[0]
		opts := Options{Codec: allCodecs[int(mode&3)]}
		switch mode >> 4 & 3 {
		case 1:
			opts.MaxError = 0.01
		case 2:
			opts.MaxError, opts.RelativeError = 0.001, true
		}
		data = data[1:]
		n := len(data) / 16
		b := Block{Node: "fuzz", Stream: "s", Seq: uint64(len(data)), Timestamps: make([]int64, n), Values: make([]float64, n)}
		for i := range n {
			b.Timestamps[i] = int64(binary.LittleEndian.Uint64(data[16*i:]))
			b.Values[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[16*i+8:]))
		}
		roundTrip(t, opts, []Block{b})
	})
}

// fuzzSeedBlocks are blocks whose frames use every transform and stream kind:
// Huffman symbols, Rice, sparse corrections, bit-packing, XOR byte planes, the
// dictionary of a nonlinear sensor conversion.
func fuzzSeedBlocks() []Block {
	n := 300
	humidity := make([]float64, n) // SHT1x relative humidity from a random walk of raw counts
	raw := 1500.0
	for i := range humidity {
		raw += float64(int(uint32(i)*2654435761>>29) - 3)
		humidity[i] = math.Round((-4+0.0405*raw-2.8e-6*raw*raw)*100) / 100
	}
	ts := seqTimestamps(n, 1e18, 5e9)
	ts[100] += 7e9 // a gap: sparse deltas of deltas
	small, wide, noisy, random := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		small[i] = float64(2000+(i*7919)%13) / 100
		wide[i] = float64((i*2654435761)%1000003) / 1000
		noisy[i] = float64(i%50) / 10
		if i%40 == 0 {
			noisy[i] = math.Nextafter(noisy[i], 100)
		}
		random[i] = math.Float64frombits(uint64(i) * 0x9e3779b97f4a7c15)
	}
	var out []Block
	for _, vals := range [][]float64{small, wide, noisy, random, humidity} {
		out = append(out, Block{Node: "n", Stream: "s", Seq: 1, Timestamps: ts, Values: vals})
	}
	return append(out, hourlyBlock(n))
}

// hourlyBlock is n readings every 5 minutes of a load with a job at the same
// minute of every hour, 3 decimals: in bounded-error mode its frames use the
// lag transforms (grid-lag, or decimal-lag when the bound is far below the
// decimals).
func hourlyBlock(n int) Block {
	vals := make([]float64, n)
	for i := range vals {
		load := 30000 + int(uint32(i)*2654435761>>24) // 0.001 steps of noise
		if i%12 == 3 {
			load += 40000 + int(uint32(i)*40503>>26)
		}
		vals[i] = float64(load) / 1000
	}
	return Block{Node: "n", Stream: "cpu", Seq: 2, Timestamps: seqTimestamps(n, 1.4e18, 300e9), Values: vals}
}
