package frame

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// scaleBoth runs scaleDecimal on vals with the AVX2 loop and with the Go
// loop and fails when the integers, deltas, corrections or counts differ.
func scaleBoth(t *testing.T, vals []float64, d int) {
	t.Helper()
	asm, scalar := &Encoder{}, &Encoder{}
	nAsm := asm.scaleDecimal(vals, pow10[d])
	haveScaleAsm = false
	nGo := scalar.scaleDecimal(vals, pow10[d])
	haveScaleAsm = true
	if nAsm != nGo || asm.kLo != scalar.kLo || asm.kHi != scalar.kHi ||
		!slices.Equal(asm.ks, scalar.ks) || !slices.Equal(asm.cs, scalar.cs) || !slices.Equal(asm.kDeltas, scalar.kDeltas) {
		t.Fatalf("D=%d, %d values: AVX2 and Go scaling differ (corrections %d, %d)", d, len(vals), nAsm, nGo)
	}
}

// TestScaleAsm checks the AVX2 decimal scaling against the Go loop on
// decimals, noisy decimals, random bit patterns and special values
// (NaN, ±Inf, -0, subnormals, products beyond 2^51 and 2^53) at every
// decimal count.
func TestScaleAsm(t *testing.T) {
	if !haveScaleAsm {
		t.Skip("no AVX2 on this CPU: the Go loop runs")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for d := 0; d <= maxDecimals; d++ {
		for _, n := range []int{1, 3, 4, 5, 8, 13, 1000} {
			decimals := make([]float64, n)
			noisy := make([]float64, n)
			random := make([]float64, n)
			special := make([]float64, n)
			for i := range n {
				decimals[i] = float64(rng.Int64N(1<<40)-1<<39) / pow10[d]
				noisy[i] = math.Nextafter(decimals[i], math.Inf(rng.IntN(2)*2-1))
				random[i] = math.Float64frombits(rng.Uint64())
				special[i] = decimals[i]
				if rng.IntN(5) == 0 {
					special[i] = adversarialValues[rng.IntN(len(adversarialValues))]
				}
			}
			for _, vals := range [][]float64{decimals, noisy, random, special} {
				scaleBoth(t, vals, d)
			}
		}
	}
}

// TestFastMod checks fastMod against the % operator.
func TestFastMod(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{1, 2, 3, 7, 8, 100, 8191, 65536, 1 << 20, 1<<32 - 1} {
		m := ^uint64(0)/uint64(d) + 1
		for range 10000 {
			a := rng.Uint32()
			if got, want := fastMod(a, m, d), int(a%uint32(d)); d < 1<<32 && got != want {
				t.Fatalf("fastMod(%d, %d) = %d, want %d", a, d, got, want)
			}
		}
	}
}

// TestRiceQuotientsAsm checks the AVX2 sums of Rice quotients against the
// Go loop, and chooseRice with and without them, on values of every size
// (escapes and values of 2^63 or more included).
func TestRiceQuotientsAsm(t *testing.T) {
	if !haveScaleAsm {
		t.Skip("no AVX2 on this CPU: the Go loop runs")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 3, 4, 7, 100, 511, 512, 1000, 5000} {
		for bitsWide := uint(1); bitsWide <= 64; bitsWide += 7 {
			zs := make([]uint64, n)
			for i := range zs {
				zs[i] = rng.Uint64() >> (64 - bitsWide)
				if rng.IntN(30) == 0 {
					zs[i] = rng.Uint64()
				}
			}
			for k0 := uint(0); k0 <= riceMaxK; k0 += 5 {
				q, o, l, e := riceSampleQuotients(zs, k0)
				haveScaleAsm = false
				wq, wo, wl, we := riceSampleQuotients(zs, k0)
				haveScaleAsm = true
				if q != wq || o != wo || l != wl || e != we {
					t.Fatalf("n=%d k0=%d: AVX2 sums (%d %d %d %d), Go (%d %d %d %d)", n, k0, q, o, l, e, wq, wo, wl, we)
				}
			}
			var buf [2 * riceSamples]uint64
			k, size := chooseRice(zs, &buf)
			haveScaleAsm = false
			wk, wsize := chooseRice(zs, &buf)
			haveScaleAsm = true
			if k != wk || size != wsize {
				t.Fatalf("n=%d: chooseRice %d, %d with AVX2, %d, %d without", n, k, size, wk, wsize)
			}
		}
	}
}
