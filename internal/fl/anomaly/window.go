package anomaly

import (
	"fmt"
	"math"
)

// WindowConfig says how a stream of readings becomes windows.
type WindowConfig struct {
	Size int // readings in a window, newest last; ≥ 2
	// Warmup is how many readings only feed the running statistics before
	// the first window is made (the first window ends at reading Warmup,
	// 0-based); ≥ Size−1.
	Warmup int
	// MinStd is the floor of every standard deviation the features divide
	// by (the sensors' resolution is 0.01 °C and about 0.03 % humidity), > 0.
	MinStd float64
	// Clip bounds every feature to [−Clip, Clip], > 0: an anomaly far out
	// must not swamp the model's training.
	Clip float64
}

// DefaultWindowConfig is the experiment's windowing: the last 8 readings
// (40 s), after 120 readings (10 minutes) of statistics.
func DefaultWindowConfig() WindowConfig {
	return WindowConfig{Size: 8, Warmup: 120, MinStd: 0.05, Clip: 10}
}

// Validate names the first field out of range.
func (c WindowConfig) Validate() error {
	switch {
	case c.Size < 2:
		return fmt.Errorf("window config: size %d, want ≥ 2", c.Size)
	case c.Warmup < c.Size-1:
		return fmt.Errorf("window config: warmup %d, want ≥ size−1 = %d", c.Warmup, c.Size-1)
	case !(c.MinStd > 0) || math.IsInf(c.MinStd, 0):
		return fmt.Errorf("window config: min_std %v, want > 0 and finite", c.MinStd)
	case !(c.Clip > 0) || math.IsInf(c.Clip, 0):
		return fmt.Errorf("window config: clip %v, want > 0 and finite", c.Clip)
	}
	return nil
}

// Dim is the number of features of a window of channels values a reading:
// per channel, Size z-scores and Size−1 scaled deltas.
func (c WindowConfig) Dim(channels int) int { return channels * (2*c.Size - 1) }

// Stats are a node's running statistics per channel over every reading
// before a window's newest one: mean and standard deviation of the values,
// standard deviation of the differences between consecutive readings.
type Stats struct {
	Count    int // readings behind Mean and Std
	Mean     []float64
	Std      []float64 // sample standard deviation, at least MinStd
	DeltaStd []float64 // of consecutive differences, at least MinStd
}

// Window is the last Size readings of a stream with the statistics of
// every reading before its newest one.
type Window struct {
	End       int       // 0-based index of the newest reading in the stream
	Channels  int       // values a reading
	Values    []float64 // Size×Channels, oldest reading first, row-major
	Stats     Stats
	Anomalous bool // the label of the newest reading, when known
}

// Value is channel c of the i-th reading of the window (0 oldest).
func (w Window) Value(i, c int) float64 { return w.Values[i*w.Channels+c] }

// AppendFeatures appends the window's cfg.Dim(w.Channels) features to dst:
// channel after channel, the z-scores (v − mean)/std of its Size values,
// oldest first, then the Size−1 differences between consecutive values
// divided by the running standard deviation of differences; each clipped to
// [−cfg.Clip, cfg.Clip] (0 where the arithmetic overflowed into NaN).
func (w Window) AppendFeatures(dst []float32, cfg WindowConfig) []float32 {
	n := len(w.Values) / w.Channels
	clip := func(v float64) float32 {
		if math.IsNaN(v) { // values near ±MaxFloat64 overflow the statistics: no information
			return 0
		}
		return float32(max(-cfg.Clip, min(cfg.Clip, v)))
	}
	for c := range w.Channels {
		mean, std, dstd := w.Stats.Mean[c], w.Stats.Std[c], w.Stats.DeltaStd[c]
		for i := range n {
			dst = append(dst, clip((w.Value(i, c)-mean)/std))
		}
		for i := 1; i < n; i++ {
			dst = append(dst, clip((w.Value(i, c)-w.Value(i-1, c))/dstd))
		}
	}
	return dst
}

// welford is a running mean and variance.
type welford struct {
	n        int
	mean, m2 float64
}

func (w *welford) add(v float64) {
	w.n++
	d := v - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (v - w.mean)
}

func (w *welford) std(floor float64) float64 {
	if w.n < 2 {
		return floor
	}
	return max(floor, math.Sqrt(w.m2/float64(w.n-1)))
}

// Windower turns a node's stream of readings into windows, causally: a
// window's features depend only on its readings and the ones before, so it
// runs the same on a live stream as on a file. Not safe for concurrent use.
type Windower struct {
	cfg      WindowConfig
	channels int
	ring     []float64 // last Size readings, Size×channels, slot = index mod Size
	pushed   int
	values   []welford
	deltas   []welford
}

// NewWindower returns a Windower of readings with channels values each.
func NewWindower(cfg WindowConfig, channels int) (*Windower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if channels < 1 {
		return nil, fmt.Errorf("windower: %d channels, want ≥ 1", channels)
	}
	return &Windower{
		cfg: cfg, channels: channels, ring: make([]float64, cfg.Size*channels),
		values: make([]welford, channels), deltas: make([]welford, channels),
	}, nil
}

// Push adds the next reading. Once Warmup readings have gone before it, it
// returns the window ending at this reading and true. A reading with the
// wrong number of values or a value that is not finite is an error and
// leaves the Windower as it was.
func (w *Windower) Push(values []float64) (Window, bool, error) {
	if len(values) != w.channels {
		return Window{}, false, fmt.Errorf("reading %d: %d values, want %d", w.pushed, len(values), w.channels)
	}
	for c, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Window{}, false, fmt.Errorf("reading %d: channel %d: %v is not finite", w.pushed, c, v)
		}
	}
	size, t := w.cfg.Size, w.pushed
	copy(w.ring[(t%size)*w.channels:], values)
	var win Window
	ok := t >= w.cfg.Warmup
	if ok {
		win = Window{End: t, Channels: w.channels, Values: make([]float64, 0, size*w.channels), Stats: w.stats()}
		for i := t - size + 1; i <= t; i++ {
			win.Values = append(win.Values, w.ring[(i%size)*w.channels:(i%size+1)*w.channels]...)
		}
	}
	for c, v := range values { // the statistics take the reading after its window
		if t > 0 {
			w.deltas[c].add(v - w.ring[((t-1)%size)*w.channels+c])
		}
		w.values[c].add(v)
	}
	w.pushed++
	return win, ok, nil
}

func (w *Windower) stats() Stats {
	s := Stats{Count: w.pushed}
	for c := range w.channels {
		s.Mean = append(s.Mean, w.values[c].mean)
		s.Std = append(s.Std, w.values[c].std(w.cfg.MinStd))
		s.DeltaStd = append(s.DeltaStd, w.deltas[c].std(w.cfg.MinStd))
	}
	return s
}

// NodeWindows runs a Windower over a node's readings (humidity and
// temperature) and labels each window: a window is anomalous when its
// newest reading is labelled anomalous, so a detector flags the reading
// that has just arrived.
func NodeWindows(n Node, cfg WindowConfig) ([]Window, error) {
	w, err := NewWindower(cfg, len(ChannelNames))
	if err != nil {
		return nil, err
	}
	var out []Window
	for _, r := range n.Readings {
		win, ok, err := w.Push(r.Channels())
		if err != nil {
			return nil, fmt.Errorf("node %s: line %d: %w", n.ID, r.Line, err)
		}
		if ok {
			win.Anomalous = r.Anomaly
			out = append(out, win)
		}
	}
	return out, nil
}
