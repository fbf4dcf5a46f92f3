package aggregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas/gonum"
)

var blas32 gonum.Implementation

// Rule combines the deltas of a round (all of one length) into dst. weights
// (one per delta, Σ = 1) are the example-count weights; rules that are not
// weighted ignore them. Combine never modifies the deltas.
type Rule interface {
	Name() string
	Combine(ctx context.Context, deltas [][]float32, weights []float64, dst []float32) error
}

// ErrNoUpdates is returned when a rule gets no deltas (or all weights are zero).
var ErrNoUpdates = errors.New("no updates to aggregate")

// Weights returns examples[i]/Σexamples: non-negative, summing to 1. All
// zero (or none) is ErrNoUpdates.
func Weights(examples []uint64) ([]float64, error) {
	var total float64
	for _, e := range examples {
		total += float64(e)
	}
	if total == 0 {
		return nil, fmt.Errorf("weights: %d updates with 0 examples: %w", len(examples), ErrNoUpdates)
	}
	w := make([]float64, len(examples))
	for i, e := range examples {
		w[i] = float64(e) / total
	}
	return w, nil
}

// FedAvg is McMahan et al.'s federated averaging: Σ weight_k·delta_k.
type FedAvg struct{}

func (FedAvg) Name() string { return "fedavg" }

// Combine splits the parameters into chunks, one goroutine each, and adds
// the weighted deltas with gonum's float32 axpy.
func (FedAvg) Combine(ctx context.Context, deltas [][]float32, weights []float64, dst []float32) error {
	if err := checkDeltas(deltas, dst); err != nil {
		return err
	}
	if len(weights) != len(deltas) {
		return fmt.Errorf("fedavg: %d weights for %d deltas", len(weights), len(deltas))
	}
	return parallelChunks(ctx, len(dst), 16384, func(lo, hi int) {
		out := dst[lo:hi]
		clear(out)
		for k, d := range deltas {
			blas32.Saxpy(hi-lo, float32(weights[k]), d[lo:hi], 1, out, 1)
		}
	})
}

// Median is the coordinate-wise median (mean of the two middle values for
// an even count), unweighted; robust to fewer than half of the clients
// sending arbitrary values.
type Median struct{}

func (Median) Name() string { return "median" }

func (Median) Combine(ctx context.Context, deltas [][]float32, _ []float64, dst []float32) error {
	return TrimmedMean{}.combine(ctx, deltas, dst, true)
}

// TrimmedMean drops, per coordinate, the Trim fraction of the largest and of
// the smallest values and averages the rest (Yin et al. 2018), unweighted.
// Trim is in [0, 0.5); at least one value always remains.
type TrimmedMean struct{ Trim float64 }

func (t TrimmedMean) Name() string { return fmt.Sprintf("trimmed_mean(%g)", t.Trim) }

func (t TrimmedMean) Combine(ctx context.Context, deltas [][]float32, _ []float64, dst []float32) error {
	if !(t.Trim >= 0 && t.Trim < 0.5) {
		return fmt.Errorf("trimmed_mean: trim %v, want in [0, 0.5)", t.Trim)
	}
	return t.combine(ctx, deltas, dst, false)
}

func (t TrimmedMean) combine(ctx context.Context, deltas [][]float32, dst []float32, median bool) error {
	if err := checkDeltas(deltas, dst); err != nil {
		return err
	}
	n := len(deltas)
	cut := int(math.Floor(t.Trim * float64(n)))
	if 2*cut >= n {
		cut = (n - 1) / 2
	}
	const block = 64
	return parallelChunks(ctx, len(dst), 4096, func(lo, hi int) {
		col := make([]float32, block*n) // transposed block: coordinate-major
		for b := lo; b < hi; b += block {
			m := min(block, hi-b)
			for k, d := range deltas {
				for j, v := range d[b : b+m] {
					col[j*n+k] = v
				}
			}
			for j := range m {
				c := col[j*n : (j+1)*n]
				if median {
					selectK(c, n/2)
					if n%2 == 1 {
						dst[b+j] = c[n/2]
					} else {
						dst[b+j] = (slices.Max(c[:n/2]) + c[n/2]) / 2
					}
					continue
				}
				if cut > 0 {
					selectK(c, cut)
					selectK(c[cut+1:], n-2*cut-1) // c[n-cut-1]: the largest kept
				}
				var s float64
				for _, v := range c[cut : n-cut] {
					s += float64(v)
				}
				dst[b+j] = float32(s / float64(n-2*cut))
			}
		}
	})
}

// Krum (Blanchard et al. 2017) scores each delta by the sum of squared
// distances to its n−f−2 nearest others and averages the Select deltas of
// lowest score (Select 1: Krum; more: multi-Krum), unweighted. Byzantine is
// f, the number of arbitrary clients tolerated; it needs n > 2f+2.
type Krum struct {
	Byzantine int
	Select    int // default 1
}

func (k Krum) Name() string { return fmt.Sprintf("krum(f=%d,m=%d)", k.Byzantine, max(k.Select, 1)) }

func (k Krum) Combine(ctx context.Context, deltas [][]float32, _ []float64, dst []float32) error {
	if err := checkDeltas(deltas, dst); err != nil {
		return err
	}
	n, f, sel := len(deltas), k.Byzantine, max(k.Select, 1)
	if f < 0 || n <= 2*f+2 {
		return fmt.Errorf("krum: byzantine %d needs more than %d updates, have %d", f, 2*f+2, n)
	}
	if sel > n-f {
		return fmt.Errorf("krum: select %d above n−f = %d", sel, n-f)
	}
	norms := make([]float64, n)
	for i, d := range deltas {
		norms[i] = float64(blas32.Sdot(len(d), d, 1, d, 1))
	}
	dist := make([]float64, n*n)
	var pairs [][2]int
	for i := range n {
		for j := i + 1; j < n; j++ {
			pairs = append(pairs, [2]int{i, j})
		}
	}
	if err := parallelChunks(ctx, len(pairs), 1, func(lo, hi int) {
		for _, p := range pairs[lo:hi] {
			a, b := deltas[p[0]], deltas[p[1]]
			d := max(0, norms[p[0]]+norms[p[1]]-2*float64(blas32.Sdot(len(a), a, 1, b, 1)))
			dist[p[0]*n+p[1]], dist[p[1]*n+p[0]] = d, d
		}
	}); err != nil {
		return err
	}
	scores := make([]float64, n)
	row := make([]float64, n-1)
	for i := range n {
		row = row[:0]
		for j := range n {
			if j != i {
				row = append(row, dist[i*n+j])
			}
		}
		slices.Sort(row)
		for _, d := range row[:n-f-2] {
			scores[i] += d
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(scores[a], scores[b]) })
	chosen := make([][]float32, sel)
	w := make([]float64, sel)
	for i := range sel {
		chosen[i], w[i] = deltas[order[i]], 1/float64(sel)
	}
	return FedAvg{}.Combine(ctx, chosen, w, dst)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkDeltas(deltas [][]float32, dst []float32) error {
	if len(deltas) == 0 {
		return ErrNoUpdates
	}
	for i, d := range deltas {
		if len(d) != len(dst) {
			return fmt.Errorf("deltas[%d]: %d values, want %d", i, len(d), len(dst))
		}
	}
	return nil
}

// parallelChunks runs fn over [0,n) in chunks of at least minChunk, on up to
// GOMAXPROCS goroutines, and returns ctx's error if it was cancelled before
// the work was handed out.
func parallelChunks(ctx context.Context, n, minChunk int, fn func(lo, hi int)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), n/max(minChunk, 1)))
	if workers == 1 {
		fn(0, n)
		return ctx.Err()
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Go(func() { fn(lo, min(lo+step, n)) })
	}
	wg.Wait()
	return ctx.Err()
}
