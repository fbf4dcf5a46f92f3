package tflite

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRequantMatchesApply: the vector requantization (assembly where there
// is one) and the portable one equal clamp(multiplier.apply(…) + outZP) on
// random accumulators, including the extremes, for multipliers above and
// below one.
func TestRequantMatchesApply(t *testing.T) {
	t.Run("assembly", testRequantMatchesApply)
	t.Run("Go", func(t *testing.T) {
		defer func(had bool) { haveGEMMAsm = had }(haveGEMMAsm)
		haveGEMMAsm = false
		testRequantMatchesApply(t)
	})
}

func testRequantMatchesApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name     string
		channels int
		scale    func() float64
	}{
		{"small multipliers", 64, func() float64 { return math.Ldexp(0.5+rng.Float64()/2, -rng.IntN(20)) }},
		{"multipliers above one", 16, func() float64 { return 1 + 7*rng.Float64() }},
		{"tiny", 24, func() float64 { return math.Ldexp(rng.Float64()+0.01, -30) }},
		{"partial group", 13, func() float64 { return rng.Float64() / 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mult := make([]multiplier, tc.channels)
			bias, wZP := make([]int32, tc.channels), make([]int32, tc.channels)
			for c := range mult {
				mult[c] = newMultiplier(tc.scale())
				bias[c] = rng.Int32N(1<<24) - 1<<23
				wZP[c] = rng.Int32N(256)
			}
			p := requantParams(bias, wZP, mult, tc.channels)
			n := (tc.channels + 7) / 8 * 8
			for range 200 {
				acc := make([]int32, n)
				for i := range acc {
					switch rng.IntN(8) {
					case 0:
						acc[i] = math.MaxInt32 - rng.Int32N(1<<24)
					case 1:
						acc[i] = math.MinInt32 + rng.Int32N(1<<24)
					default:
						acc[i] = rng.Int32N(1<<22) - 1<<21
					}
				}
				sumX := rng.Int32N(1 << 16)
				got, ref := make([]int32, n), make([]int32, n)
				requant(acc, sumX, p, 3, -128, 127, got)
				requantGo(acc, sumX, p, 3, -128, 127, ref)
				for c := range tc.channels {
					want := clamp32(mult[c].apply(acc[c]+bias[c]-wZP[c]*sumX)+3, -128, 127)
					if got[c] != want || ref[c] != want {
						t.Fatalf("channel %d acc %d: vector %d, Go %d, apply %d", c, acc[c], got[c], ref[c], want)
					}
				}
				if !slices.Equal(got, ref) {
					t.Fatalf("padding lanes differ: %v %v", got, ref)
				}
				bytes := make([]byte, tc.channels+1)
				bytes[tc.channels] = 0xee
				requantBytes(acc, sumX, p, 3, -128, 127, bytes[:tc.channels], make([]int32, 8))
				for c := range tc.channels {
					if int8(bytes[c]) != int8(ref[c]) {
						t.Fatalf("channel %d: byte %d, want %d", c, int8(bytes[c]), ref[c])
					}
				}
				if bytes[tc.channels] != 0xee {
					t.Fatalf("wrote past the %d outputs", tc.channels)
				}
			}
		})
	}
}
