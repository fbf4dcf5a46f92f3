package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Injection makes synthetic anomalies for training: a level shift of the
// last k readings of a window (k uniform in 1..Size), on each channel with
// probability one half (at least one channel), of sign drawn at random and
// of magnitude uniform in [MinSigma, MaxSigma] running standard deviations
// of the channel. It stands for sensor faults and local disturbances in
// general (a step, a spike, a drift that has just begun); it is not
// shaped after the labelled anomalies.
type Injection struct {
	PerWindow int     // anomalous copies of every training window, ≥ 0
	MinSigma  float64 // > 0
	MaxSigma  float64 // ≥ MinSigma
}

// DefaultInjection is the experiment's: one anomalous copy a window, shifts
// of 3 to 10 standard deviations.
func DefaultInjection() Injection { return Injection{PerWindow: 1, MinSigma: 3, MaxSigma: 10} }

// Validate names the first field out of range.
func (in Injection) Validate() error {
	switch {
	case in.PerWindow < 0:
		return fmt.Errorf("injection: per_window %d, want ≥ 0", in.PerWindow)
	case !(in.MinSigma > 0) || math.IsInf(in.MinSigma, 0):
		return fmt.Errorf("injection: min_sigma %v, want > 0 and finite", in.MinSigma)
	case !(in.MaxSigma >= in.MinSigma) || math.IsInf(in.MaxSigma, 0):
		return fmt.Errorf("injection: max_sigma %v, want ≥ min_sigma %v and finite", in.MaxSigma, in.MinSigma)
	}
	return nil
}

// Apply returns a copy of w with a synthetic anomaly drawn from rng,
// labelled anomalous; w is not modified.
func (in Injection) Apply(w Window, rng *rand.Rand) Window {
	out := w
	out.Values = append([]float64(nil), w.Values...)
	out.Anomalous = true
	size := len(w.Values) / w.Channels
	k := 1 + rng.IntN(size)
	mask := 1 + rng.IntN(1<<w.Channels-1) // a non-empty set of channels, each in it with probability ½ given that
	for c := range w.Channels {
		if mask&(1<<c) == 0 {
			continue
		}
		shift := (in.MinSigma + rng.Float64()*(in.MaxSigma-in.MinSigma)) * w.Stats.Std[c]
		if rng.IntN(2) == 0 {
			shift = -shift
		}
		for i := size - k; i < size; i++ {
			out.Values[i*w.Channels+c] += shift
		}
	}
	return out
}
