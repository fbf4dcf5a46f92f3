package tflite

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The cases come from TensorFlow Lite's quantization_util_test.cc and
// gemmlowp's fixedpoint tests, and from the definitions (ties away from zero).
func TestQuantizeMultiplier(t *testing.T) {
	tests := []struct {
		name        string
		m           float64
		significand int32
		exponent    int
	}{
		{"-4", -4, -1 << 30, 3},
		{"-0.5", -0.5, -1 << 30, 0},
		{"-0.125", -0.125, -1 << 30, -2},
		{"zero", 0, 0, 0},
		{"0.125", 0.125, 1 << 30, -2},
		{"0.5", 0.5, 1 << 30, 0},
		{"1", 1, 1 << 30, 1},
		{"4", 4, 1 << 30, 3},
		{"2^-31", math.Ldexp(1, -31), 1 << 30, -30},
		{"2^-32", math.Ldexp(1, -32), 1 << 30, -31},
		{"2^-33 underflows", math.Ldexp(1, -33), 0, 0},
		{"2^-34 underflows", math.Ldexp(1, -34), 0, 0},
		{"(2^30-1)*2^-30", math.Ldexp(1<<30-1, -30), 2147483646, 0},
		{"rounds up to 2^31: halved", math.Ldexp(1<<53-1, -53), 1 << 30, 1},
		{"0.75", 0.75, 3 << 29, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := QuantizeMultiplier(tt.m)
			if s != tt.significand || e != tt.exponent {
				t.Errorf("QuantizeMultiplier(%g) = (%d, %d), want (%d, %d)", tt.m, s, e, tt.significand, tt.exponent)
			}
			if s != 0 {
				if back := math.Ldexp(float64(s), e-31); math.Abs(back-tt.m) > math.Abs(tt.m)*1e-9 {
					t.Errorf("significand*2^(exponent-31) = %g, want %g", back, tt.m)
				}
			}
		})
	}
}

func TestSaturatingRoundingDoublingHighMul(t *testing.T) {
	tests := []struct {
		a, b, want int32
	}{
		{math.MinInt32, math.MinInt32, math.MaxInt32}, // the one overflow saturates
		{1 << 30, 1 << 30, 1 << 29},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
		{math.MinInt32, math.MaxInt32, math.MinInt32 + 1},
		{3, 1 << 30, 2},   // 1.5 rounds away from zero
		{-3, 1 << 30, -1}, // -1.5: gemmlowp's nudge 1-2^30 rounds a negative tie toward zero
		{5, 1 << 29, 1},   // 1.25 rounds to 1
		{100, 0, 0},
	}
	for _, tt := range tests {
		if got := SaturatingRoundingDoublingHighMul(tt.a, tt.b); got != tt.want {
			t.Errorf("SaturatingRoundingDoublingHighMul(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRoundingDivideByPOT(t *testing.T) {
	tests := []struct {
		x        int32
		exponent int
		want     int32
	}{
		{5, 1, 3}, {-5, 1, -3}, {3, 1, 2}, {-3, 1, -2}, {4, 1, 2},
		{7, 2, 2}, {-7, 2, -2}, {6, 2, 2}, {-6, 2, -2}, {5, 2, 1}, {-5, 2, -1},
		{12345, 0, 12345}, {math.MaxInt32, 31, 1}, {math.MinInt32, 31, -1},
	}
	for _, tt := range tests {
		if got := RoundingDivideByPOT(tt.x, tt.exponent); got != tt.want {
			t.Errorf("RoundingDivideByPOT(%d, %d) = %d, want %d", tt.x, tt.exponent, got, tt.want)
		}
	}
}

func TestMultiplyByQuantizedMultiplier(t *testing.T) {
	tests := []struct {
		name string
		x    int32
		m    float64
		want int32
	}{
		{"identity", 1000, 1, 1000},
		{"half of odd rounds away", 1001, 0.5, 501},
		{"half of negative odd: the tie goes toward zero", -1001, 0.5, -500},
		{"quarter of negative: RoundingDivideByPOT rounds away", -1002, 0.25, -251},
		{"times 3", 7, 3, 21},
		{"small", 123456, 1.0 / 1024, 121}, // 120.5625 rounds to 121
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := QuantizeMultiplier(tt.m)
			if got := MultiplyByQuantizedMultiplier(tt.x, s, e); got != tt.want {
				t.Errorf("MultiplyByQuantizedMultiplier(%d, %g) = %d, want %d", tt.x, tt.m, got, tt.want)
			}
		})
	}
}

// TestExpOnNegativeValues checks the fixed-point exp against math.Exp.
func TestExpOnNegativeValues(t *testing.T) {
	for _, x := range []float64{0, -0.01, -0.125, -0.25, -0.5, -1, -2.5, -4, -8, -16, -31.9} {
		raw := int32(math.Round(x * (1 << 26))) // 5 integer bits
		got := float64(expOnNegativeValues(raw, 5)) / (1 << 31)
		if want := math.Exp(x); math.Abs(got-want) > 1e-6 {
			t.Errorf("exp(%g) = %g, want %g", x, got, want)
		}
	}
}

func TestReciprocal(t *testing.T) {
	for _, x := range []float64{1, 1.5, 2, 3.75, 100, 1000.25} {
		raw := int32(x * (1 << 19)) // 12 integer bits
		s, over := reciprocal(raw, 12)
		got := float64(s) / (1 << 31) / math.Ldexp(1, over)
		if want := 1 / x; math.Abs(got-want) > want*1e-6 {
			t.Errorf("1/%g = %g, want %g", x, got, want)
		}
	}
}

// TestMultiplierApply: the fast apply agrees with MultiplyByQuantizedMultiplier.
func TestMultiplierApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	xs := []int32{0, 1, -1, 2, -2, math.MaxInt32, math.MinInt32, 1 << 30, -1 << 30, 12345, -12345}
	for range 2000 {
		xs = append(xs, int32(rng.Uint32()), rng.Int32N(1<<20)-1<<19)
	}
	ms := []multiplier{{math.MinInt32, 0}, {math.MaxInt32, 0}, {1 << 30, 1}, {1 << 30, 31}, {1 << 30, -31}}
	for range 300 {
		ms = append(ms, newMultiplier(math.Ldexp(rng.Float64()+0.001, rng.IntN(40)-30)))
		ms = append(ms, multiplier{int32(rng.Uint32()), rng.IntN(62) - 31})
	}
	for _, m := range ms {
		for _, x := range xs {
			if got, want := m.apply(x), MultiplyByQuantizedMultiplier(x, m.significand, m.exponent); got != want {
				t.Fatalf("%+v.apply(%d) = %d, MultiplyByQuantizedMultiplier %d", m, x, got, want)
			}
		}
	}
}
