package generate

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/edgeflow/edgeflow/stages/reading"
)

// sensor simulates one sensor. It is deterministic given the seed: its random
// source depends only on the seed and the sensor's name.
type sensor struct {
	p         params
	anomalies []string
	rng       *rand.Rand
	start     time.Time
	tick      int64   // index of the next reading
	drift     float64 // current random-walk offset
	last      float64 // last reported value

	anomaly   string // active anomaly kind, "" if none
	remaining int    // readings the active anomaly still lasts
	shift     float64
	afterGap  bool // the next reading follows a dropout
}

func newSensor(p params, anomalies []string, seed int64, start time.Time) *sensor {
	h := fnv.New64a()
	h.Write([]byte(p.name))
	return &sensor{p: p, anomalies: anomalies, rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64())), start: start}
}

// due is the time of the next reading.
func (s *sensor) due() time.Time { return s.start.Add(time.Duration(s.tick) * s.p.interval) }

// next advances one tick and returns the reading, or ok=false during a dropout.
func (s *sensor) next(node string) (r reading.Reading, ok bool) {
	t := s.due()
	s.tick++
	hours := s.p.interval.Hours()
	// Mean-reverting random walk (time constant about two days).
	s.drift += s.rng.NormFloat64()*s.p.drift*math.Sqrt(hours) - s.drift*math.Min(1, hours/48)
	hourOfDay := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60 + float64(t.UTC().Second())/3600
	cycle := s.p.amplitude * math.Cos(2*math.Pi*(hourOfDay-s.p.peakHour)/24)
	v := s.p.base + cycle + s.drift + s.rng.NormFloat64()*s.p.noise

	label := ""
	if s.anomaly == "" && s.p.anomalyRate > 0 && len(s.anomalies) > 0 && s.rng.Float64() < s.p.anomalyRate {
		s.startAnomaly()
	}
	if s.anomaly != "" {
		label = s.anomaly
		switch s.anomaly {
		case "spike":
			v += s.shift
		case "shift":
			v += s.shift
		case "stuck":
			v = s.last
		case "dropout":
			s.remaining--
			if s.remaining <= 0 {
				s.anomaly = ""
				s.afterGap = true
			}
			return r, false
		}
		s.remaining--
		if s.remaining <= 0 {
			s.anomaly = ""
		}
	} else if s.afterGap {
		label = "dropout"
	}
	s.afterGap = false
	if label != "stuck" {
		v = s.quantise(math.Max(s.p.min, math.Min(s.p.max, v)))
	}
	s.last = v
	labels := s.p.labels
	if label != "" {
		labels = make(map[string]string, len(s.p.labels)+1)
		for k, val := range s.p.labels {
			labels[k] = val
		}
		labels["anomaly"] = label
	}
	return reading.Reading{Node: node, Stream: s.p.name, Time: t, Value: v, Labels: labels}, true
}

// scale is a typical size of a visible anomaly for this sensor.
func (s *sensor) scale() float64 {
	return math.Max(math.Max(8*s.p.noise, s.p.amplitude), 0.05*math.Abs(s.p.base))
}

func (s *sensor) startAnomaly() {
	s.anomaly = s.anomalies[s.rng.IntN(len(s.anomalies))]
	sign := 1.0
	if s.rng.IntN(2) == 0 {
		sign = -1
	}
	switch s.anomaly {
	case "spike":
		s.remaining = 1
		s.shift = sign * (1.5 + 1.5*s.rng.Float64()) * s.scale()
	case "shift":
		s.remaining = 30 + s.rng.IntN(270)
		s.shift = sign * (0.5 + s.rng.Float64()) * s.scale()
	case "stuck":
		s.remaining = 20 + s.rng.IntN(180)
		if s.tick == 1 { // nothing reported yet to repeat
			s.anomaly = ""
		}
	case "dropout":
		s.remaining = 5 + s.rng.IntN(95)
	}
}

func (s *sensor) quantise(v float64) float64 {
	p := math.Pow10(s.p.decimals)
	q := math.Round(v*p) / p
	if math.IsInf(q, 0) || math.IsNaN(q) {
		return v
	}
	return q
}
