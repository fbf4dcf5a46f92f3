package tflite

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWidenMatchesGo: widen (assembly for whole vectors where there is
// one) and widenGo give the same values and sums, for lengths around the
// vector size and both flips.
func TestWidenMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 15, 16, 17, 27, 32, 100, 1024, 4608} {
		for _, flip := range []byte{0, 0x80} {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(rng.IntN(256))
			}
			got, want := make([]int16, n+1), make([]int16, n+1)
			got[n], want[n] = -7, -7
			gs, ws := widen(src, flip, got), widenGo(src, flip, want)
			if gs != ws || !slices.Equal(got, want) {
				t.Fatalf("n=%d flip=%#x: sum %d, want %d; values equal: %v", n, flip, gs, ws, slices.Equal(got, want))
			}
		}
	}
}
