package frame

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// riceDivReference is what riceDivBMI2 computes, in Go: after each load a
// value and, when it is wholly in the loaded bits, a second one; it stops
// before an escape, before a first value not wholly loaded, at the last 8
// bytes or at the end of vals.
func riceDivReference(src []byte, k uint, k0 int64, div float64, vals []float64) (int, uint, int64) {
	var acc uint64
	var n uint
	pos := 0
	mask := uint64(1)<<k - 1
	// value decodes one value from acc if it is wholly there.
	value := func(i int) bool {
		ones := uint(bits.TrailingZeros64(^acc))
		need := ones + 1 + k
		if ones >= riceEscape || need > n {
			return false
		}
		k0 += unzigzag(uint64(ones)<<k | (acc>>(ones+1))&mask)
		acc >>= need
		n -= need
		vals[i] = float64(k0) / div
		return true
	}
	i := 0
	for i < len(vals) && pos+8 <= len(src) {
		acc |= binary.LittleEndian.Uint64(src[pos:]) << n
		pos += int((63 - n) >> 3)
		n |= 56
		if !value(i) {
			break
		}
		i++
		if i < len(vals) && value(i) {
			i++
		}
	}
	return i, uint(8*pos) - n, k0
}

// riceZReference is riceDivReference storing the values themselves, as
// riceBMI2 does.
func riceZReference(src []byte, k uint, zs []uint64) (int, uint) {
	var acc uint64
	var n uint
	pos := 0
	mask := uint64(1)<<k - 1
	value := func(i int) bool {
		ones := uint(bits.TrailingZeros64(^acc))
		need := ones + 1 + k
		if ones >= riceEscape || need > n {
			return false
		}
		zs[i] = uint64(ones)<<k | (acc>>(ones+1))&mask
		acc >>= need
		n -= need
		return true
	}
	i := 0
	for i < len(zs) && pos+8 <= len(src) {
		acc |= binary.LittleEndian.Uint64(src[pos:]) << n
		pos += int((63 - n) >> 3)
		n |= 56
		if !value(i) {
			break
		}
		i++
		if i < len(zs) && value(i) {
			i++
		}
	}
	return i, uint(8*pos) - n
}

// checkRiceAsm compares riceDivBMI2 with riceDivReference, and riceBMI2 with
// riceZReference, on one input.
func checkRiceAsm(t *testing.T, src []byte, k uint, k0 int64, d int, n int) {
	t.Helper()
	want, got := make([]float64, n), make([]float64, n)
	wi, wbp, wk := riceDivReference(src, k, k0, pow10[d], want)
	gi, gbp, gk := riceScaledDiv(src, k, k0, pow10[d], got)
	if gi != wi || gbp != wbp || gk != wk {
		t.Fatalf("k=%d n=%d %d bytes: (done, bit position, last) = (%d, %d, %d), reference (%d, %d, %d)", k, n, len(src), gi, gbp, gk, wi, wbp, wk)
	}
	for i := range wi {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("k=%d n=%d: value %d = %v, reference %v", k, n, i, got[i], want[i])
		}
	}
	wantZ, gotZ := make([]uint64, n), make([]uint64, n)
	wi, wbp = riceZReference(src, k, wantZ)
	gi, gbp = 0, 0
	if n > 0 && len(src) >= 8 {
		gi, gbp = riceBMI2(&src[0], len(src), k, &gotZ[0], n)
	}
	if gi != wi || gbp != wbp || !slices.Equal(gotZ[:gi], wantZ[:wi]) {
		t.Fatalf("k=%d n=%d %d bytes: riceBMI2 (done, bit position) = (%d, %d), reference (%d, %d), or the values differ", k, n, len(src), gi, gbp, wi, wbp)
	}
}

// TestRiceAsm checks the BMI2 Rice decoder against the Go reference on Rice
// streams of every parameter (escapes included) and on random bytes.
func TestRiceAsm(t *testing.T) {
	if !haveRiceAsm {
		t.Skip("no BMI2 on this CPU: the Go decoder runs")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := uint(0); k <= riceMaxK; k++ {
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
			zs := make([]uint64, n)
			for i := range zs {
				zs[i] = rng.Uint64() >> (64 - min(64, k+1+uint(rng.IntN(4))))
				if rng.IntN(50) == 0 {
					zs[i] = rng.Uint64() // an escape for most k
				}
			}
			stream := appendRice(nil, zs, k)
			for _, cut := range []int{len(stream), len(stream) + 8, len(stream) / 2, 7, 8, 9} {
				src := append(slices.Clip(stream[:min(cut, len(stream))]), make([]byte, max(0, cut-len(stream)))...)
				checkRiceAsm(t, src, k, int64(rng.Uint64()>>12)-1<<50, rng.IntN(maxDecimals+1), n)
			}
			noise := make([]byte, 8*n+rng.IntN(16))
			for i := range noise {
				noise[i] = byte(rng.Uint32())
			}
			checkRiceAsm(t, noise, k, 0, 2, n)
		}
	}
}

// FuzzRiceAsm checks the BMI2 Rice decoder against the Go reference on
// arbitrary bytes.
func FuzzRiceAsm(f *testing.F) {
	if !haveRiceAsm {
		f.Skip("no BMI2 on this CPU: the Go decoder runs")
	}
	f.Add(byte(3), uint16(100), int64(5), byte(2), appendRice(nil, []uint64{1, 2, 3, 1 << 40, 0, 7}, 3))
	f.Add(byte(56), uint16(5), int64(-9), byte(18), appendRice(nil, []uint64{1 << 60, 3, math.MaxUint64}, 56))
	f.Add(byte(12), uint16(300), int64(1<<52), byte(3), appendRice(nil, make([]uint64, 300), 12))
	f.Fuzz(func(t *testing.T, k byte, n uint16, k0 int64, d byte, src []byte) {
		checkRiceAsm(t, src, uint(k)%(riceMaxK+1), k0, int(d)%(maxDecimals+1), int(n%2000))
	})
}

// TestRoundTripWithoutAsm runs the real-data and adversarial round trips with
// the pure-Go loops only, as on CPUs without BMI2 and AVX2.
func TestRoundTripWithoutAsm(t *testing.T) {
	if !haveRiceAsm && !haveScaleAsm {
		t.Skip("the Go loops run in every test on this CPU")
	}
	rice, scale := haveRiceAsm, haveScaleAsm
	haveRiceAsm, haveScaleAsm = false, false
	defer func() { haveRiceAsm, haveScaleAsm = rice, scale }()
	t.Run("real", TestRoundTripRealData)
	t.Run("adversarial", TestRoundTripAdversarial)
}

// TestRiceEncodeAsm checks that the BMI2 Rice encoder writes the same bytes
// as the Go one, and that they decode to the values, for every parameter,
// with escapes and codes longer than 57 bits.
func TestRiceEncodeAsm(t *testing.T) {
	if !haveRiceAsm {
		t.Skip("no BMI2 on this CPU: the Go encoder runs")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for k := uint(0); k <= riceMaxK; k++ {
		for _, n := range []int{1, 2, 3, 255, 256, 257, 1000} {
			zs := make([]uint64, n)
			for i := range zs {
				zs[i] = rng.Uint64() >> (64 - min(64, k+1+uint(rng.IntN(6))))
				if rng.IntN(40) == 0 {
					zs[i] = rng.Uint64()
				}
			}
			prefix := []byte{0xa5, 0x5a}
			asm := appendRice(slices.Clone(prefix), zs, k)
			haveRiceAsm = false
			pure := appendRice(slices.Clone(prefix), zs, k)
			haveRiceAsm = true
			if !slices.Equal(asm, pure) {
				t.Fatalf("k=%d n=%d: BMI2 and Go Rice codes differ", k, n)
			}
			got := make([]uint64, n)
			rest, err := readRiceReference(asm[len(prefix):], got, k)
			if err != nil || len(rest) != 0 || !slices.Equal(got, zs) {
				t.Fatalf("k=%d n=%d: Rice codes decode to other values (%v, %d bytes left)", k, n, err, len(rest))
			}
		}
	}
}

// checkUnaryCorrections compares addUnaryCorrections with decoding the
// stream by readRiceReference and adding the corrections afterwards.
func checkUnaryCorrections(t *testing.T, src []byte, n int) {
	t.Helper()
	base := make([]float64, n)
	for i := range base {
		base[i] = float64(i) * 0.25
	}
	got := slices.Clone(base)
	rest, err := addUnaryCorrections(src, got)
	zs := make([]uint64, n)
	wantRest, wantErr := readRiceReference(src, zs, 0)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("n=%d: error %v, reference %v", n, err, wantErr)
	}
	if err != nil {
		return
	}
	if len(rest) != len(wantRest) {
		t.Fatalf("n=%d: %d bytes left, reference %d", n, len(rest), len(wantRest))
	}
	for i, z := range zs {
		want := math.Float64frombits(math.Float64bits(base[i]) + uint64(unzigzag(z)))
		if math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("n=%d: value %d = %#x, reference %#x", n, i, math.Float64bits(got[i]), math.Float64bits(want))
		}
	}
}

// TestUnaryCorrections checks the word-at-a-time decoding of unary
// corrections, which skips zeros, on streams of every density of zeros,
// with escapes and long unary codes, and on random bytes.
func TestUnaryCorrections(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, zeros := range []int{0, 50, 75, 90, 99, 100} {
		for _, n := range []int{1, 2, 63, 64, 65, 1000} {
			zs := make([]uint64, n)
			for i := range zs {
				switch r := rng.IntN(100); {
				case r < zeros:
				case r < 98:
					zs[i] = uint64(1 + rng.IntN(6))
				case r < 99:
					zs[i] = uint64(20 + rng.IntN(20)) // long codes and escapes
				default:
					zs[i] = rng.Uint64()
				}
			}
			stream := appendRice(nil, zs, 0)
			for _, extra := range [][]byte{nil, {0xff, 0x00, 0x12}, make([]byte, 9)} {
				checkUnaryCorrections(t, append(slices.Clone(stream), extra...), n)
			}
			checkUnaryCorrections(t, stream[:len(stream)/2], n)
		}
	}
	for range 2000 {
		noise := make([]byte, rng.IntN(300))
		for i := range noise {
			noise[i] = byte(rng.Uint32())
			if rng.IntN(3) == 0 {
				noise[i] = 0xff
			}
		}
		checkUnaryCorrections(t, noise, rng.IntN(500))
	}
}

// FuzzUnaryCorrections checks addUnaryCorrections against the reference on
// arbitrary bytes.
func FuzzUnaryCorrections(f *testing.F) {
	f.Add(uint16(100), appendRice(nil, []uint64{0, 0, 1, 0, 2, 0, 0, 40, 0, 3}, 0))
	f.Add(uint16(64), appendRice(nil, make([]uint64, 64), 0))
	f.Fuzz(func(t *testing.T, n uint16, src []byte) {
		checkUnaryCorrections(t, src, int(n%2000))
	})
}
