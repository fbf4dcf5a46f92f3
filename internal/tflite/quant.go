package tflite

import (
	"math"
	"math/bits"
)

// This file holds the fixed-point arithmetic of TensorFlow Lite's quantized
// reference kernels (tensorflow/lite/kernels/internal/common.h and gemmlowp's
// fixedpoint.h), bit for bit: a real multiplier is a 32-bit significand in
// Q0.31 and a power-of-two exponent; products round with
// SaturatingRoundingDoublingHighMul and shifts with RoundingDivideByPOT.

// QuantizeMultiplier splits a real multiplier m into a Q0.31 significand in
// [2^30, 2^31) and an exponent with m ≈ significand * 2^(exponent-31), as
// TFLite's QuantizeMultiplier: the significand is frexp's fraction rounded
// half away from zero; a fraction that rounds up to 2^31 is halved; an
// exponent below -31 yields (0, 0). m = 0 yields (0, 0).
func QuantizeMultiplier(m float64) (significand int32, exponent int) {
	if m == 0 || math.IsNaN(m) || math.IsInf(m, 0) {
		return 0, 0
	}
	frac, exp := math.Frexp(m)
	q := int64(math.Round(frac * (1 << 31)))
	if q == 1<<31 {
		q /= 2
		exp++
	}
	if exp < -31 {
		return 0, 0
	}
	return int32(q), exp
}

// SaturatingRoundingDoublingHighMul is gemmlowp's: the high 32 bits of 2*a*b,
// rounded to nearest (ties away from zero), saturating the one overflow case
// a = b = MinInt32.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	return int32((ab + nudge) / (1 << 31))
}

// RoundingDivideByPOT is gemmlowp's x / 2^exponent rounded to nearest, ties
// away from zero; exponent in [0, 31].
func RoundingDivideByPOT(x int32, exponent int) int32 {
	mask := int32(1)<<exponent - 1
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> exponent
	if remainder > threshold {
		r++
	}
	return r
}

// MultiplyByQuantizedMultiplier is TFLite's x * significand * 2^(exponent-31)
// with the reference kernels' double rounding: a left shift for a positive
// exponent, SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT for a
// negative one.
func MultiplyByQuantizedMultiplier(x, significand int32, exponent int) int32 {
	left, right := 0, 0
	if exponent > 0 {
		left = exponent
	} else {
		right = -exponent
	}
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x*(1<<left), significand), right)
}

// multiplier is a quantized real multiplier (QuantizeMultiplier's result).
type multiplier struct {
	significand int32
	exponent    int
}

func newMultiplier(m float64) multiplier {
	s, e := QuantizeMultiplier(m)
	return multiplier{s, e}
}

// apply is MultiplyByQuantizedMultiplier(x, q.significand, q.exponent),
// branch-free in 64 bits (TestMultiplierApply checks that the two agree):
// gemmlowp's nudge makes SaturatingRoundingDoublingHighMul's truncating
// division equal to (a·b + 2^30) >> 31 for either sign, and
// RoundingDivideByPOT(h, r) is (h + 2^(r-1) − [h < 0]) >> r.
func (q multiplier) apply(x int32) int32 {
	if q.exponent > 0 {
		x <<= uint(q.exponent)
	}
	if x == math.MinInt32 && q.significand == math.MinInt32 {
		return math.MaxInt32
	}
	h := (int64(x)*int64(q.significand) + 1<<30) >> 31
	if r := -q.exponent; r > 0 {
		h = (h + int64(1)<<(r-1) + h>>63) >> r
	}
	return int32(h)
}

// roundHalfAway rounds to the nearest integer, ties away from zero (C's round).
func roundHalfAway(x float64) float64 { return math.Round(x) }

// roundHalfAway32 is roundf.
func roundHalfAway32(x float32) float32 { return float32(math.Round(float64(x))) }

// clamp32 limits x to [lo, hi].
func clamp32(x, lo, hi int32) int32 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// Fixed-point helpers of gemmlowp used by the quantized softmax.

// saturatingShiftLeft is gemmlowp's SaturatingRoundingMultiplyByPOT for a
// positive exponent.
func saturatingShiftLeft(x int32, exponent int) int32 {
	threshold := int32(1)<<(31-exponent) - 1
	if x > threshold {
		return math.MaxInt32
	}
	if x < -threshold {
		return math.MinInt32
	}
	return x << exponent
}

// expOnIntervalBetweenNegativeOneQuarterAnd0Excl is gemmlowp's, in Q0.31.
func expOnIntervalBetweenNegativeOneQuarterAnd0Excl(a int32) int32 {
	const constantTerm = 1895147668 // exp(-1/8)
	const oneThird = 715827883
	x := a + 1<<28
	x2 := SaturatingRoundingDoublingHighMul(x, x)
	x3 := SaturatingRoundingDoublingHighMul(x2, x)
	x4 := SaturatingRoundingDoublingHighMul(x2, x2)
	x4Over4 := RoundingDivideByPOT(x4, 2)
	poly := RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x4Over4+x3, oneThird)+x2, 1)
	return constantTerm + SaturatingRoundingDoublingHighMul(constantTerm, x+poly)
}

// expOnNegativeValues is gemmlowp's exp_on_negative_values for an input with
// integerBits integer bits (a <= 0); the result is in Q0.31.
func expOnNegativeValues(a int32, integerBits int) int32 {
	fractionalBits := 31 - integerBits
	oneQuarter := int32(1) << (fractionalBits - 2)
	mask := oneQuarter - 1
	aModQuarterMinusOneQuarter := (a & mask) - oneQuarter
	var rescaled int32
	if integerBits > 0 {
		rescaled = saturatingShiftLeft(aModQuarterMinusOneQuarter, integerBits)
	} else {
		rescaled = aModQuarterMinusOneQuarter
	}
	result := expOnIntervalBetweenNegativeOneQuarterAnd0Excl(rescaled)
	remainder := aModQuarterMinusOneQuarter - a
	barrel := [...]struct {
		exponent   int
		multiplier int32
	}{{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308}, {2, 39332535}, {3, 720401}, {4, 242}}
	for _, b := range barrel {
		if integerBits > b.exponent {
			shift := fractionalBits + b.exponent
			if remainder&(int32(1)<<shift) != 0 {
				result = SaturatingRoundingDoublingHighMul(result, b.multiplier)
			}
		}
	}
	if integerBits > 5 {
		clamp := -(int32(1) << (fractionalBits + 5)) // -32.0
		if a < clamp {
			result = 0
		}
	}
	if a == 0 {
		result = math.MaxInt32
	}
	return result
}

// oneOverOnePlusXForXIn01 is gemmlowp's one_over_one_plus_x_for_x_in_0_1:
// a in Q0.31, result in Q0.31.
func oneOverOnePlusXForXIn01(a int32) int32 {
	sum := int64(a) + math.MaxInt32
	sign := int64(1)
	if sum < 0 {
		sign = -1
	}
	halfDenominator := int32((sum + sign) / 2)
	const c48Over17 = 1515870810     // Q2.29
	const cNeg32Over17 = -1010580540 // Q2.29
	x := c48Over17 + SaturatingRoundingDoublingHighMul(halfDenominator, cNeg32Over17)
	const oneQ2 = 1 << 29
	for range 3 {
		halfDenominatorTimesX := SaturatingRoundingDoublingHighMul(halfDenominator, x)
		oneMinus := oneQ2 - halfDenominatorTimesX
		x += saturatingShiftLeft(SaturatingRoundingDoublingHighMul(x, oneMinus), 2)
	}
	return saturatingShiftLeft(x, 1)
}

// reciprocal is TFLite's GetReciprocal: 1/x for x with xIntegerDigits integer
// bits, as a Q0.31 significand and the number of bits above one.
func reciprocal(x int32, xIntegerDigits int) (scale int32, numBitsOverUnit int) {
	headroomPlusOne := bits.LeadingZeros32(uint32(x))
	numBitsOverUnit = xIntegerDigits - headroomPlusOne
	shiftedSumMinusOne := int32(uint32(x)<<headroomPlusOne - 1<<31)
	return oneOverOnePlusXForXIn01(shiftedSumMinusOne), numBitsOverUnit
}
