package tflite

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGEMM4x3MatchesGo runs the machine's micro-kernel (AVX-512 VNNI or
// AVX2 on amd64, UDOT or NEON on arm64), then the one without VNNI or UDOT, and the
// portable one on random widened bytes, including the largest values, and
// requires identical sums.
func TestGEMM4x3MatchesGo(t *testing.T) {
	t.Logf("vector kernels: %s", vectorKernels())
	t.Run("machine", testGEMM4x3MatchesGo)
	t.Run("without VNNI or UDOT", func(t *testing.T) {
		defer withoutDotProduct()()
		testGEMM4x3MatchesGo(t)
	})
}

func testGEMM4x3MatchesGo(t *testing.T) {
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
			const outStride = 7
			got, want := make([]int32, 4*outStride), make([]int32, 4*outStride)
			for i := range got {
				got[i], want[i] = -1, -1 // the kernels leave the other values
			}
			gemm4x3(p, w, tc.stride, tc.n, got, outStride)
			gemm4x3Go(p, w, tc.stride, tc.n, want, outStride)
			if !slices.Equal(got, want) {
				t.Fatalf("asm %v, Go %v (assembly in use: %v)", got, want, haveGEMMAsm)
			}
		})
	}
}

// TestGEMM4x3RefusesShortSlices: slices shorter than the call reads or
// writes leave out as it was instead of reaching past them.
func TestGEMM4x3RefusesShortSlices(t *testing.T) {
	for _, tc := range []struct {
		name         string
		p, w, stride int
		out, outStep int
	}{
		{"short patches", 63, 48, 16, 16, 4},
		{"short filter", 64, 47, 16, 16, 4},
		{"short out", 64, 48, 16, 15, 4},
		{"out rows overlap", 64, 48, 16, 16, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, w := make([]int16, tc.p), make([]int16, tc.w)
			for i := range p {
				p[i] = 1
			}
			for i := range w {
				w[i] = 1
			}
			out := make([]int32, tc.out)
			gemm4x3(p, w, tc.stride, 16, out, tc.outStep)
			if slices.ContainsFunc(out, func(v int32) bool { return v != 0 }) {
				t.Fatalf("got %v, want it untouched", out)
			}
		})
	}
}

// BenchmarkGEMM4x3 reports multiply-accumulates as bytes (MB/s = M MAC/s)
// of the machine's kernel and, for comparison, without VNNI or UDOT.
func BenchmarkGEMM4x3(b *testing.B) {
	const n = 1024
	p, w := make([]int16, 4*n), make([]int16, 3*n)
	for i := range p {
		p[i] = int16(i % 256)
	}
	out := make([]int32, 16)
	run := func(b *testing.B) {
		b.SetBytes(12 * n)
		for b.Loop() {
			gemm4x3(p, w, n, n, out, 4)
		}
	}
	b.Run("machine", run)
	b.Run("without VNNI or UDOT", func(b *testing.B) {
		defer withoutDotProduct()()
		run(b)
	})
}
