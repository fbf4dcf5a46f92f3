package frame

import (
	"fmt"
	"math"
	"testing"

	"pgregory.net/rapid"
)

// valueGen draws the values bounded-error mode must handle: anything at all,
// sensor-like decimals, and the special values.
var valueGen = rapid.OneOf(
	rapid.Float64(),
	rapid.Float64Range(-1e3, 1e3),
	rapid.Map(rapid.IntRange(-100000, 100000), func(i int) float64 { return float64(i) / 100 }),
	rapid.SampledFrom(adversarialValues),
)

// TestBoundedErrorGuarantee: every decoded value is within the bound (or bit
// exact), for any values, bounds and back ends.
func TestBoundedErrorGuarantee(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		opts := Options{Codec: rapid.SampledFrom(allCodecs).Draw(rt, "codec")}
		if rapid.Bool().Draw(rt, "relative") {
			opts.RelativeError = true
			opts.MaxError = rapid.SampledFrom([]float64{1e-15, 1e-9, 1e-6, 1e-3, 0.1, 0.5, 0.999}).Draw(rt, "maxError")
		} else {
			opts.MaxError = rapid.SampledFrom([]float64{5e-324, 1e-300, 1e-9, 1e-6, 0.001, 0.005, 0.5, 3, 1e6, 1e300}).Draw(rt, "maxError")
		}
		vals := rapid.SliceOfN(valueGen, 0, 400).Draw(rt, "values")
		ts := rapid.SliceOfN(rapid.Int64(), len(vals), len(vals)).Draw(rt, "timestamps")
		roundTrip(rt, opts, []Block{{Node: "n", Stream: "s", Timestamps: ts, Values: vals}})
	})
}

// TestBoundedRealData: bounded-error mode on the real data sets (the bound is
// checked value by value in roundTrip).
func TestBoundedRealData(t *testing.T) {
	sets := append(loadTelosB(t), loadNAB(t)...)
	for _, opts := range []Options{
		{Codec: CodecZstd, MaxError: 0.005},
		{Codec: CodecZstd, MaxError: 0.05},
		{Codec: CodecZstd, MaxError: 0.5},
		{Codec: CodecZstd, MaxError: 1e-4, RelativeError: true},
		{Codec: CodecNone, MaxError: 1e-3, RelativeError: true},
	} {
		name := fmt.Sprintf("%s/max%g", opts.Codec, opts.MaxError)
		if opts.RelativeError {
			name += "rel"
		}
		t.Run(name, func(t *testing.T) {
			for _, ds := range sets {
				n := roundTrip(t, opts, ds.blocks(1000))
				t.Logf("%-46s %6.2f bits/value", ds.name, float64(8*n)/float64(len(ds.vals)))
			}
		})
	}
}

func TestBoundedHeaderIsLossy(t *testing.T) {
	enc, _ := NewEncoder(Options{MaxError: 0.1})
	frame, err := enc.Encode(nil, &Block{Timestamps: []int64{1, 2}, Values: []float64{1.23, math.Pi}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(frame)
	if err != nil || !h.Lossy {
		t.Fatalf("header %+v, %v: want Lossy", h, err)
	}
}
