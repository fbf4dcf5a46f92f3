package tflite

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// The tests of this file run each vector kernel of this machine (AVX2 or
// AVX-512 VNNI on amd64, NEON on arm64; on other architectures the Go code
// runs on both sides) against its pure-Go reference on inputs built to hit
// the edges: random sizes with tails that are not a whole vector, the
// extreme 8-bit values -128, 127, 0 and 255 (and the int16 extremes), zero
// points across their ranges, and requantization ties that round away from
// zero. make test-arm runs them on arm64 under qemu.

// vectorKernels names the kernels the tests compare with Go.
func vectorKernels() string {
	switch {
	case !haveGEMMAsm:
		return "none (" + runtime.GOARCH + ": pure Go)"
	case useUDOT:
		return "NEON with UDOT"
	case runtime.GOARCH == "arm64":
		return "NEON"
	case useVNNI:
		return "AVX2 and AVX-512 VNNI"
	}
	return "AVX2"
}

// extremes are the values an 8-bit tensor's bytes take at its limits, as
// int8 and as uint8 (after the XOR with 0x80 that moves int8 to uint8).
var extremes = []int16{-128, 127, 0, 255, 128, -1, 1}

// pick returns a value for the kernels' inputs: an extreme with
// probability 1/2, else uniform in [lo, hi].
func pick(rng *rand.Rand, lo, hi int) int16 {
	if rng.IntN(2) == 0 {
		if e := extremes[rng.IntN(len(extremes))]; int(e) >= lo && int(e) <= hi {
			return e
		}
	}
	return int16(lo + rng.IntN(hi-lo+1))
}

// withoutDotProduct switches the VNNI and UDOT micro-kernels off and
// returns the function that restores them.
func withoutDotProduct() (restore func()) {
	vnni, udot := useVNNI, useUDOT
	useVNNI, useUDOT = false, false
	return func() { useVNNI, useUDOT = vnni, udot }
}

// TestGEMM4x3VectorMatchesGo: widened bytes (what the convolution passes)
// on every kernel of the machine; signed values, which only the kernels
// without UDOT take (UDOT multiplies the int16 values' bytes), on those.
func TestGEMM4x3VectorMatchesGo(t *testing.T) {
	t.Logf("vector kernels: %s", vectorKernels())
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name   string
		lo, hi int
		noDot  bool
	}{
		{"bytes", 0, 255, false},
		{"bytes without VNNI or UDOT", 0, 255, true},
		{"int8", -128, 127, true},
		{"int16 extremes", math.MinInt16, math.MaxInt16, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noDot {
				defer withoutDotProduct()()
			}
			for trial := range 300 {
				n := gemmAlign * rng.IntN(80)              // 0 … 1264 values
				stride := n + gemmAlign*rng.IntN(3)        // padded rows
				outStride := gemmCols + rng.IntN(6)        // ≥ 3: 3 sums and a zero, maybe more
				p := make([]int16, 3*stride+n+rng.IntN(9)) // slack past the last row
				w := make([]int16, 2*stride+n+rng.IntN(9))
				for i := range p {
					p[i] = pick(rng, tc.lo, tc.hi)
				}
				for i := range w {
					w[i] = pick(rng, tc.lo, tc.hi)
				}
				if tc.name == "int16 extremes" && trial%3 == 0 {
					for i := range p { // every pairwise sum of products at its largest
						p[i] = math.MinInt16
					}
					for i := range w {
						w[i] = math.MinInt16
					}
				}
				size := 3*outStride + gemmCols + 1
				got, want := make([]int32, size), make([]int32, size)
				for i := range got {
					got[i], want[i] = -7, -7
				}
				gemm4x3(p, w, stride, n, got, outStride)
				gemm4x3Go(p, w, stride, n, want, outStride)
				if !slices.Equal(got, want) {
					t.Fatalf("trial %d n=%d stride=%d outStride=%d: %s %v, Go %v", trial, n, stride, outStride, vectorKernels(), got, want)
				}
			}
		})
	}
}

func TestWidenVectorMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for trial := range 500 {
		n := rng.IntN(300) // whole vectors and tails
		off := rng.IntN(4) // src not at the start of its array
		buf := make([]byte, off+n)
		src := buf[off:]
		for i := range src {
			src[i] = byte(pick(rng, 0, 255))
		}
		if trial%7 == 0 {
			for i := range src {
				src[i] = 0xff
			}
		}
		for _, flip := range []byte{0, 0x80} {
			got, want := make([]int16, n+2), make([]int16, n+2)
			got[n], want[n] = -9, -9
			gs, ws := widen(src, flip, got), widenGo(src, flip, want)
			if gs != ws || !slices.Equal(got, want) {
				t.Fatalf("trial %d n=%d flip=%#x: sum %d, want %d; values equal: %v", trial, n, flip, gs, ws, slices.Equal(got, want))
			}
		}
	}
}

// requantCase is one output range with its zero point, as int8 and uint8
// tensors with and without fused activations have them.
type requantCase struct {
	name          string
	outZP, lo, hi int32
}

var requantRanges = []requantCase{
	{"int8 zero point -128", -128, -128, 127},
	{"int8 zero point 127", 127, -128, 127},
	{"int8 zero point 0", 0, -128, 127},
	{"int8 relu6", -128, -128, -80},
	{"uint8 zero point 0", 0, 0, 255},
	{"uint8 zero point 255", 255, 0, 255},
	{"uint8 zero point 128", 128, 0, 255},
	{"uint8 relu", 3, 3, 255},
}

func TestRequantVectorMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, rc := range requantRanges {
		t.Run(rc.name, func(t *testing.T) {
			for trial := range 60 {
				channels := 1 + rng.IntN(41) // partial groups of eight
				mult := make([]multiplier, channels)
				bias, wZP := make([]int32, channels), make([]int32, channels)
				for c := range mult {
					switch rng.IntN(4) {
					case 0: // ≈ 1 · 2^-r: the product keeps the accumulator, so ties are exact
						mult[c] = multiplier{significand: math.MaxInt32, exponent: -rng.IntN(32)}
					case 1:
						mult[c] = newMultiplier(1 + 15*rng.Float64()) // a left shift
					default:
						mult[c] = newMultiplier(math.Ldexp(0.5+rng.Float64()/2, -rng.IntN(31)))
					}
					bias[c] = rng.Int32N(1<<24) - 1<<23
					wZP[c] = int32(pick(rng, 0, 255))
				}
				p := requantParams(bias, wZP, mult, channels)
				n := (channels + requantLanes - 1) / requantLanes * requantLanes
				acc := make([]int32, n)
				for i := range acc {
					c := min(i, channels-1)
					switch rng.IntN(6) {
					case 0:
						acc[i] = math.MaxInt32 - rng.Int32N(1<<10)
					case 1:
						acc[i] = math.MinInt32 + rng.Int32N(1<<10)
					case 2, 3: // x = ±(2k+1)·2^(r-1) after bias: a tie of the final shift
						if r := -mult[c].exponent; r > 0 {
							k := rng.Int32N(1 << max(0, 30-r))
							acc[i] = (2*k+1)<<(r-1) - bias[c]
							if rng.IntN(2) == 0 {
								acc[i] = -(2*k+1)<<(r-1) - bias[c]
							}
							break
						}
						fallthrough
					default:
						acc[i] = rng.Int32N(1<<22) - 1<<21
					}
				}
				// sumX 0 (half the trials) keeps the ties exact.
				sumX := []int32{0, 0, rng.Int32N(1 << 16), 255 * int32(rng.IntN(4096))}[rng.IntN(4)]
				got, want := make([]int32, n), make([]int32, n)
				requant(acc, sumX, p, rc.outZP, rc.lo, rc.hi, got)
				requantGo(acc, sumX, p, rc.outZP, rc.lo, rc.hi, want)
				if !slices.Equal(got, want) {
					for c := range got {
						if got[c] != want[c] {
							t.Fatalf("trial %d channel %d of %d: acc %d sumX %d multiplier %+v: %s %d, Go %d",
								trial, c, channels, acc[c], sumX, mult[min(c, channels-1)], vectorKernels(), got[c], want[c])
						}
					}
				}
				for c := range channels {
					if ref := clamp32(mult[c].apply(acc[c]+bias[c]-wZP[c]*sumX)+rc.outZP, rc.lo, rc.hi); want[c] != ref {
						t.Fatalf("channel %d: requantGo %d, multiplier.apply %d", c, want[c], ref)
					}
				}
				bytes := make([]byte, channels+1)
				bytes[channels] = 0xee
				requantBytes(acc, sumX, p, rc.outZP, rc.lo, rc.hi, bytes[:channels], make([]int32, requantLanes))
				for c := range channels {
					if bytes[c] != byte(want[c]) {
						t.Fatalf("trial %d channel %d: byte %d, want %d", trial, c, bytes[c], byte(want[c]))
					}
				}
				if bytes[channels] != 0xee {
					t.Fatalf("wrote past the %d outputs", channels)
				}
			}
		})
	}
}

// TestRequantVectorTies: every right shift from 1 to 31, accumulators
// exactly halfway between two results, both signs: TFLite rounds them away
// from zero.
func TestRequantVectorTies(t *testing.T) {
	for r := 1; r <= 31; r++ {
		mult := make([]multiplier, requantLanes)
		for c := range mult {
			mult[c] = multiplier{significand: math.MaxInt32, exponent: -r}
		}
		p := requantParams(nil, nil, mult, requantLanes)
		acc := make([]int32, requantLanes)
		for c := range acc {
			// (2k+1)·2^(r-1) below 2^30 in magnitude
			k := (int32(c) << max(0, 26-r)) % (int32(1) << max(0, 30-r))
			acc[c] = (2*k + 1) << (r - 1)
			if c%2 == 1 {
				acc[c] = -acc[c]
			}
		}
		got, want := make([]int32, requantLanes), make([]int32, requantLanes)
		requant(acc, 0, p, 0, math.MinInt32, math.MaxInt32, got)
		requantGo(acc, 0, p, 0, math.MinInt32, math.MaxInt32, want)
		if !slices.Equal(got, want) {
			t.Fatalf("right shift %d: accumulators %v: %s %v, Go %v", r, acc, vectorKernels(), got, want)
		}
	}
}

func TestDepthwise3x3VectorExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, channels := range []int{1, 7, 8, 9, 15, 16, 17, 24, 33, 40} {
		for _, signed := range []bool{false, true} {
			name := fmt.Sprintf("%d channels/signed=%v", channels, signed)
			t.Run(name, func(t *testing.T) {
				const h, w = 5, 5
				raw := make([]byte, h*w*channels)
				for i := range raw {
					raw[i] = byte(pick(rng, 0, 255))
				}
				filter := make([]int32, 9*channels)
				for i := range filter {
					// w + wOff: int8 filters with a zero point, at their extremes too
					filter[i] = []int32{-255, 255, 0, -128, 127, int32(rng.IntN(511)) - 255}[rng.IntN(6)]
				}
				bias := make([]int32, channels)
				for i := range bias {
					bias[i] = []int32{0, math.MaxInt32 / 2, math.MinInt32 / 2, rng.Int32N(1<<20) - 1<<19}[rng.IntN(4)]
				}
				g := convGeometry{batch: 1, inH: h, inW: w, inC: channels, outC: channels, kH: 3, kW: 3,
					strideH: 1, strideW: 1, dilationH: 1, dilationW: 1}
				if signed {
					depthwise3x3Check[int8](t, g, raw, filter, bias, true)
				} else {
					depthwise3x3Check[uint8](t, g, raw, filter, bias, false)
				}
			})
		}
	}
}

func depthwise3x3Check[T quantized](t *testing.T, g convGeometry, raw []byte, filter, bias []int32, signed bool) {
	t.Helper()
	channels := g.inC
	k := &depthwiseQuant[T]{g: g, in: elems[T](&Tensor{Shape: []int{len(raw)}, Data: raw}), filter: filter, biasInside: bias, inBytes: raw, signed: signed}
	for tap := range k.taps {
		k.taps[tap] = filter[tap*channels : (tap+1)*channels]
	}
	k.interleaved = depthwise3x3Interleave(&k.taps, bias)
	goOnly := *k
	goOnly.interleaved = nil
	for y0 := 0; y0+2 < g.inH; y0++ {
		for x0 := 0; x0+2 < g.inW; x0++ {
			got, want := make([]int32, channels), make([]int32, channels)
			k.inside3x3(got, 0, y0, x0)
			goOnly.inside3x3(want, 0, y0, x0)
			if !slices.Equal(got, want) {
				t.Fatalf("window at (%d,%d): %s %v, Go %v", y0, x0, vectorKernels(), got, want)
			}
		}
	}
}
