package train

import (
	"fmt"
	"testing"
)

func TestKernelsMatchGonum(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 7, 200, 784} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(i%7)-3, float32(i%5)*0.5
		}
		want := blas32.Sdot(n, x, 1, y, 1)
		if got := dotGo(x, y); abs(got-want) > 1e-4*(1+abs(want)) {
			t.Errorf("n=%d: dot %v, gonum %v", n, got, want)
		}
		y2 := append([]float32(nil), y...)
		axpyGo(0.25, x, y)
		blas32.Saxpy(n, 0.25, x, 1, y2, 1)
		for i := range y {
			if y[i] != y2[i] {
				t.Fatalf("n=%d: axpy[%d] %v, gonum %v", n, i, y[i], y2[i])
			}
		}
	}
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

var sink float32

// BenchmarkKernels: dot and axpy at the 2NN's widths, plain Go against
// gonum's assembly.
func BenchmarkKernels(b *testing.B) {
	for _, n := range []int{200, 784} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(i%7)-3, float32(i%5)*0.5
		}
		b.Run(fmt.Sprintf("dot/go/%d", n), func(b *testing.B) {
			for b.Loop() {
				sink += dotGo(x, y)
			}
		})
		b.Run(fmt.Sprintf("dot/gonum/%d", n), func(b *testing.B) {
			for b.Loop() {
				sink += blas32.Sdot(n, x, 1, y, 1)
			}
		})
		b.Run(fmt.Sprintf("axpy/go/%d", n), func(b *testing.B) {
			for b.Loop() {
				axpyGo(1e-9, x, y)
			}
		})
		b.Run(fmt.Sprintf("axpy/gonum/%d", n), func(b *testing.B) {
			for b.Loop() {
				blas32.Saxpy(n, 1e-9, x, 1, y, 1)
			}
		})
	}
}
