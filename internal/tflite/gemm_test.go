package tflite

import (
	"math/rand/v2"
	"testing"
)

// TestGEMM4x3MatchesGo runs the machine's micro-kernel (assembly where there
// is one) and the portable one on random widened bytes, including the
// largest values, and requires identical sums.
func TestGEMM4x3MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name      string
		n, stride int
		fill      func() int16
	}{
		{"empty", 0, 16, func() int16 { return 1 }},
		{"one vector", 16, 16, func() int16 { return int16(rng.IntN(256)) }},
		{"padded stride", 32, 48, func() int16 { return int16(rng.IntN(256)) }},
		{"mobilenet 1x1 depth", 1024, 1024, func() int16 { return int16(rng.IntN(256)) }},
		{"all 255", 4608, 4608, func() int16 { return 255 }},
		{"wraps past 2^31", 66048, 66048, func() int16 { return 255 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]int16, 3*tc.stride+tc.n)
			w := make([]int16, 2*tc.stride+tc.n)
			for i := range p {
				p[i] = tc.fill()
			}
			for i := range w {
				w[i] = tc.fill()
			}
			var got, want [12]int32
			gemm4x3(p, w, tc.stride, tc.n, &got)
			gemm4x3Go(p, w, tc.stride, tc.n, &want)
			if got != want {
				t.Fatalf("asm %v, Go %v (assembly in use: %v)", got, want, haveGEMMAsm)
			}
		})
	}
}

// TestGEMM4x3RefusesShortSlices: slices shorter than the call reads give
// zeros instead of reading past them.
func TestGEMM4x3RefusesShortSlices(t *testing.T) {
	p, w := make([]int16, 63), make([]int16, 48)
	for i := range p {
		p[i] = 1
	}
	out := [12]int32{1}
	gemm4x3(p, w, 16, 16, &out)
	if out != [12]int32{} {
		t.Fatalf("got %v, want zeros", out)
	}
}

func BenchmarkGEMM4x3(b *testing.B) {
	const n = 1024
	p, w := make([]int16, 4*n), make([]int16, 3*n)
	for i := range p {
		p[i] = int16(i % 256)
	}
	var out [12]int32
	b.SetBytes(12 * n) // multiply-accumulates per call
	for b.Loop() {
		gemm4x3(p, w, n, n, &out)
	}
}
