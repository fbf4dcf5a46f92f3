package tflite

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDepthwise3x3AsmMatchesGo: the 3x3 window of the depthwise kernel with
// the assembly kernel (where there is one) and in Go give the same
// accumulators on random bytes, for uint8 and int8, channel counts with and
// without a partial group of eight, and dilation.
func TestDepthwise3x3AsmMatchesGo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		channels int
		dilation int
	}{
		{"8 channels", 8, 1},
		{"32 channels", 32, 1},
		{"19 channels", 19, 1},
		{"4 channels", 4, 1},
		{"dilated", 24, 2},
	} {
		t.Run(tc.name+"/uint8", func(t *testing.T) { depthwise3x3Compare[uint8](t, tc.channels, tc.dilation, false) })
		t.Run(tc.name+"/int8", func(t *testing.T) { depthwise3x3Compare[int8](t, tc.channels, tc.dilation, true) })
	}
}

func depthwise3x3Compare[T quantized](t *testing.T, channels, dilation int, signed bool) {
	rng := rand.New(rand.NewPCG(uint64(channels), uint64(dilation)))
	const h, w = 7, 6
	g := convGeometry{batch: 1, inH: h, inW: w, inC: channels, outC: channels, kH: 3, kW: 3,
		strideH: 1, strideW: 1, dilationH: dilation, dilationW: dilation}
	raw := make([]byte, h*w*channels)
	for i := range raw {
		raw[i] = byte(rng.IntN(256))
	}
	filter := make([]int32, 9*channels)
	for i := range filter {
		filter[i] = int32(rng.IntN(511)) - 255 // w + wOff
	}
	bias := make([]int32, channels)
	for i := range bias {
		bias[i] = rng.Int32N(1<<20) - 1<<19
	}
	k := &depthwiseQuant[T]{g: g, in: elems[T](&Tensor{Shape: []int{len(raw)}, Data: raw}), filter: filter, biasInside: bias, inBytes: raw, signed: signed}
	for tap := range k.taps {
		k.taps[tap] = filter[tap*channels : (tap+1)*channels]
	}
	k.interleaved = depthwise3x3Interleave(&k.taps, bias)
	goOnly := *k
	goOnly.interleaved = nil
	for y0 := 0; y0+2*dilation < h; y0++ {
		for x0 := 0; x0+2*dilation < w; x0++ {
			got, want := make([]int32, channels), make([]int32, channels)
			k.inside3x3(got, 0, y0, x0)
			goOnly.inside3x3(want, 0, y0, x0)
			if !slices.Equal(got, want) {
				t.Fatalf("window at (%d,%d): asm %v, Go %v (assembly in use: %v)", y0, x0, got, want, haveGEMMAsm)
			}
		}
	}
}
