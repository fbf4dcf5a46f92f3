package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestLagCandidates(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   []int64
		want []int
	}{
		{"5-minute readings, 1000: hour and day", seqTimestamps(1000, 0, 300e9), []int{12, 288}},
		{"5-minute readings, 300: the day does not fit twice", seqTimestamps(300, 0, 300e9), []int{12}},
		{"hourly readings, 1000: day and week", seqTimestamps(1000, 0, 3600e9), []int{24, 168}},
		{"every 5 s, 1000: an hour is 720 readings", seqTimestamps(1000, 0, 5e9), nil},
		{"daily readings: week", seqTimestamps(20, 0, 86400e9), []int{7}},
		{"a gap does not move the median", func() []int64 {
			ts := seqTimestamps(100, 0, 300e9)
			for i := 50; i < len(ts); i++ {
				ts[i] += 7200e9
			}
			return ts
		}(), []int{12}},
		{"decreasing timestamps", seqTimestamps(100, 1e12, -300e9), nil},
		{"all equal", make([]int64, 100), nil},
		{"three readings", seqTimestamps(3, 0, 300e9), nil},
		{"extreme intervals", []int64{math.MinInt64, 0, math.MaxInt64, math.MinInt64, 0}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			lags, n := lagCandidates(c.ts)
			if got := lags[:n]; !slices.Equal(got, c.want) {
				t.Fatalf("lags %v, want %v", got, c.want)
			}
		})
	}
}

// TestLagTransformsChosen: the hourly block takes the lag transforms in
// bounded-error mode, is smaller than with deltas, and stays delta coded
// (byte for byte as without lags) in lossless mode.
func TestLagTransformsChosen(t *testing.T) {
	b := hourlyBlock(1000)
	for _, c := range []struct {
		name      string
		opts      Options
		transform uint8
	}{
		{"lossless", Options{}, transformDecimal},
		{"grid", Options{MaxError: 0.01}, transformGridLag},
		{"grid relative", Options{MaxError: 1e-3, RelativeError: true}, transformGridLag},
		{"decimal under a tiny bound", Options{MaxError: 1e-9}, transformDecimalLag},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := NewEncoder(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			frame, err := enc.Encode(nil, &b)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := parseHeader(frame)
			if err != nil {
				t.Fatal(err)
			}
			if fi.transform != c.transform {
				t.Fatalf("transform %s, want %s", transformNames[fi.transform], transformNames[c.transform])
			}
			roundTrip(t, c.opts, []Block{b})
			// The same values at irregular times (no lag candidates)
			// make a larger frame.
			irregular := b
			irregular.Timestamps = make([]int64, len(b.Values))
			for i := range irregular.Timestamps {
				irregular.Timestamps[i] = int64(i) * int64(i) * 1e9
			}
			other, err := enc.Encode(nil, &irregular)
			if err != nil {
				t.Fatal(err)
			}
			tsOnly := func(ts []int64) int { // frame bytes of the timestamps and header
				f, _ := enc.Encode(nil, &Block{Stream: b.Stream, Seq: b.Seq, Timestamps: ts, Values: make([]float64, len(ts))})
				return len(f)
			}
			lagged, plain := len(frame)-tsOnly(b.Timestamps), len(other)-tsOnly(irregular.Timestamps)
			t.Logf("values: %d bytes with the lag candidates, %d without", lagged, plain)
			if c.transform != transformDecimal && lagged >= plain {
				t.Fatalf("lag transform %d bytes, not smaller than the deltas' %d", lagged, plain)
			}
		})
	}
}

// TestDecodeRejectsBadLag: lag frames that break the format's rules fail
// with ErrCorrupt and say why.
func TestDecodeRejectsBadLag(t *testing.T) {
	enc, _ := NewEncoder(Options{MaxError: 0.01})
	b := hourlyBlock(300)
	good, err := enc.Encode(nil, &b)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := parseHeader(good)
	if fi.transform != transformGridLag {
		t.Fatalf("transform %s, want grid-lag", transformNames[fi.transform])
	}
	// Codec none, a fixed period: the body is the first delta, one
	// all-zero stream byte, the 8-byte step, then the lag.
	lagAt := fi.headerLen + uvarintLen(zigzag(b.Timestamps[1]-b.Timestamps[0])) + 1 + 8
	if got := good[lagAt]; got != 12 {
		t.Fatalf("lag byte %d, want 12", got)
	}
	for _, c := range []struct {
		name, want string
		edit       func(f []byte)
	}{
		{"lossy flag cleared", "without the lossy flag", func(f []byte) { f[6] &^= flagLossy }},
		{"transform 7", "value transform 7", func(f []byte) { f[6] = f[6]&^flagTransformMask | 7<<1 }},
		{"lag 0", "lag must be 2 to 299", func(f []byte) { f[lagAt] = 0 }},
		{"lag 1", "lag must be 2 to 299", func(f []byte) { f[lagAt] = 1 }},
		{"lag = count", "lag must be 2 to 299", func(f []byte) { copy(f[lagAt:], binary.AppendUvarint(nil, 300)[:1]) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(good)
			c.edit(bad)
			fixChecksum(bad)
			var out Block
			_, err := NewDecoder().Decode(bad, &out)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrCorrupt saying %q", err, c.want)
			}
		})
	}
}

// TestBoundedErrorGuaranteeLag: periodic readings at a fixed interval, where
// the lag transforms compete: every decoded value is within the bound (or
// bit exact), and the lag transforms are chosen for some of them.
func TestBoundedErrorGuaranteeLag(t *testing.T) {
	lagFrames := 0
	rapid.Check(t, func(rt *rapid.T) {
		opts := Options{Codec: rapid.SampledFrom(allCodecs).Draw(rt, "codec")}
		if rapid.Bool().Draw(rt, "relative") {
			opts.RelativeError = true
			opts.MaxError = rapid.SampledFrom([]float64{1e-12, 1e-6, 1e-3, 0.1}).Draw(rt, "maxError")
		} else {
			opts.MaxError = rapid.SampledFrom([]float64{5e-324, 1e-12, 1e-6, 0.001, 0.5, 1e6}).Draw(rt, "maxError")
		}
		interval := rapid.SampledFrom([]int64{60e9, 300e9, 3600e9}).Draw(rt, "interval")
		n := rapid.IntRange(4, 1500).Draw(rt, "n")
		period := rapid.SliceOfN(valueGen, 1, 200).Draw(rt, "period")
		noise := rapid.SampledFrom([]float64{0, 1e-3, 1, 1e3}).Draw(rt, "noise")
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = period[i%len(period)] + noise*float64(int(uint32(i)*2654435761>>28)-8)
		}
		if rapid.Bool().Draw(rt, "specials") {
			for _, i := range rapid.SliceOfN(rapid.IntRange(0, n-1), 1, 5).Draw(rt, "at") {
				vals[i] = rapid.SampledFrom(adversarialValues).Draw(rt, "special")
			}
		}
		b := Block{Node: "n", Stream: "s", Timestamps: seqTimestamps(n, 1.4e18, interval), Values: vals}
		roundTrip(rt, opts, []Block{b})
		enc, _ := NewEncoder(opts)
		frame, err := enc.Encode(nil, &b)
		if err != nil {
			rt.Fatal(err)
		}
		if tr := frame[6] >> 1 & 7; tr == transformGridLag || tr == transformDecimalLag {
			lagFrames++
		}
	})
	if lagFrames == 0 {
		t.Fatal("no generated block was coded with a lag transform")
	}
	t.Logf("%d blocks coded with a lag transform", lagFrames)
}
