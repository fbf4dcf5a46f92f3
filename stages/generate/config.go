package generate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// Config configures the generate source.
type Config struct {
	Seed        int64         `yaml:"seed" doc:"Seed of the random source: the same seed (and start) gives the same readings." example:"42"`
	Start       string        `yaml:"start" doc:"Time of the first reading, RFC 3339 or Unix seconds. Empty: now." example:"2026-01-01T00:00:00Z"`
	Realtime    bool          `yaml:"realtime" doc:"Pace readings by the clock (times speedup). False: generate as fast as the pipeline takes them."`
	Speedup     float64       `yaml:"speedup" doc:"With realtime, simulated time runs this many times faster than the clock." example:"60"`
	Count       int           `yaml:"count" doc:"Stop after this many readings per sensor (ticks, dropouts included). 0: no limit." example:"1000"`
	Duration    time.Duration `yaml:"duration" doc:"Stop once this much simulated time has passed since start. 0: no limit." example:"24h"`
	Interval    time.Duration `yaml:"interval" doc:"Time between readings of sensors that set no interval."`
	AnomalyRate float64       `yaml:"anomaly_rate" doc:"Probability per reading that an anomaly starts, for sensors that set none. 0 disables anomalies." example:"0.001"`
	Anomalies   []string      `yaml:"anomalies" doc:"Anomaly kinds to inject: spike (one outlier), shift (level shift for a while), stuck (value repeats), dropout (readings missing; the next one is labelled)." example:"[spike, shift]"`
	Sensors     []Sensor      `yaml:"sensors" doc:"The simulated sensors. Each kind has sensible defaults for every field left out."`
}

// Sensor configures one simulated sensor; unset fields take the kind's defaults.
type Sensor struct {
	Name           string            `yaml:"name" doc:"Stream name of the sensor's readings." required:"true" example:"temperature"`
	Kind           string            `yaml:"kind" doc:"What the sensor measures; sets the defaults of the other fields." enum:"temperature|humidity|pressure|vibration|cpu|voltage|custom"`
	Interval       time.Duration     `yaml:"interval" doc:"Time between readings; 0: the source's interval." example:"5s"`
	Base           *float64          `yaml:"base" doc:"Mean level." example:"21.5"`
	DailyAmplitude *float64          `yaml:"daily_amplitude" doc:"Amplitude of the 24-hour cycle." example:"3"`
	PeakHour       *float64          `yaml:"peak_hour" doc:"Hour of day (UTC, 0-24) at which the daily cycle peaks." example:"15"`
	Drift          *float64          `yaml:"drift" doc:"Standard deviation of the random-walk drift per hour (mean-reverting over about two days)." example:"0.05"`
	Noise          *float64          `yaml:"noise" doc:"Standard deviation of the Gaussian noise of each reading." example:"0.05"`
	Decimals       *int              `yaml:"decimals" doc:"Values are rounded to this many decimals, as the sensor would report them." example:"2"`
	Min            *float64          `yaml:"min" doc:"Values are clamped at or above this." example:"0"`
	Max            *float64          `yaml:"max" doc:"Values are clamped at or below this." example:"100"`
	AnomalyRate    *float64          `yaml:"anomaly_rate" doc:"Probability per reading that an anomaly starts; overrides the source's." example:"0.01"`
	Labels         map[string]string `yaml:"labels" doc:"Labels put on every reading of the sensor." example:"{unit: celsius}"`
}

var (
	sensorKinds  = []string{"temperature", "humidity", "pressure", "vibration", "cpu", "voltage", "custom"}
	anomalyKinds = []string{"spike", "shift", "stuck", "dropout"}
)

func defaultConfig() *Config {
	return &Config{
		Realtime:    true,
		Speedup:     1,
		Interval:    time.Second,
		AnomalyRate: 0.001,
		Anomalies:   slices.Clone(anomalyKinds),
		Sensors: []Sensor{
			{Name: "temperature", Kind: "temperature"},
			{Name: "humidity", Kind: "humidity"},
		},
	}
}

// Validate checks the config and names the bad field.
func (c *Config) Validate() error {
	if c.Start != "" {
		if _, err := reading.ParseTime(c.Start); err != nil {
			return stages.FieldErrorf("start", "%w", err)
		}
	}
	if !(c.Speedup > 0) || math.IsInf(c.Speedup, 0) {
		return stages.FieldErrorf("speedup", "speedup %v must be a positive number", c.Speedup)
	}
	if c.Count < 0 {
		return stages.FieldErrorf("count", "count %d must not be negative", c.Count)
	}
	if c.Duration < 0 {
		return stages.FieldErrorf("duration", "duration %v must not be negative", c.Duration)
	}
	if c.Interval <= 0 {
		return stages.FieldErrorf("interval", "interval %v must be positive", c.Interval)
	}
	if !(c.AnomalyRate >= 0 && c.AnomalyRate <= 1) {
		return stages.FieldErrorf("anomaly_rate", "anomaly_rate %v must be in [0,1]", c.AnomalyRate)
	}
	for i, a := range c.Anomalies {
		if !slices.Contains(anomalyKinds, a) {
			return stages.FieldErrorf(fmt.Sprintf("anomalies[%d]", i), "anomaly kind %q unknown (want %s)", a, strings.Join(anomalyKinds, "|"))
		}
	}
	if len(c.Sensors) == 0 {
		return stages.FieldErrorf("sensors", "no sensors: list at least one")
	}
	seen := map[string]bool{}
	for i, s := range c.Sensors {
		field := func(name string) string { return fmt.Sprintf("sensors[%d].%s", i, name) }
		if s.Name == "" {
			return stages.FieldErrorf(field("name"), "sensor name is empty")
		}
		if seen[s.Name] {
			return stages.FieldErrorf(field("name"), "sensor name %q used twice", s.Name)
		}
		seen[s.Name] = true
		if s.Kind != "" && !slices.Contains(sensorKinds, s.Kind) {
			return stages.FieldErrorf(field("kind"), "sensor kind %q unknown (want %s)", s.Kind, strings.Join(sensorKinds, "|"))
		}
		if s.Interval < 0 {
			return stages.FieldErrorf(field("interval"), "interval %v must not be negative", s.Interval)
		}
		for _, f := range []struct {
			name string
			v    *float64
		}{{"base", s.Base}, {"daily_amplitude", s.DailyAmplitude}, {"peak_hour", s.PeakHour}, {"drift", s.Drift},
			{"noise", s.Noise}, {"min", s.Min}, {"max", s.Max}, {"anomaly_rate", s.AnomalyRate}} {
			if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
				return stages.FieldErrorf(field(f.name), "%s must be a finite number", f.name)
			}
		}
		if s.Drift != nil && *s.Drift < 0 {
			return stages.FieldErrorf(field("drift"), "drift %v must not be negative", *s.Drift)
		}
		if s.Noise != nil && *s.Noise < 0 {
			return stages.FieldErrorf(field("noise"), "noise %v must not be negative", *s.Noise)
		}
		if s.Decimals != nil && (*s.Decimals < 0 || *s.Decimals > 15) {
			return stages.FieldErrorf(field("decimals"), "decimals %d must be in 0..15", *s.Decimals)
		}
		if s.AnomalyRate != nil && (*s.AnomalyRate < 0 || *s.AnomalyRate > 1) {
			return stages.FieldErrorf(field("anomaly_rate"), "anomaly_rate %v must be in [0,1]", *s.AnomalyRate)
		}
		p := s.resolve(c)
		if p.min > p.max {
			return stages.FieldErrorf(field("min"), "min %v is above max %v", p.min, p.max)
		}
	}
	return nil
}

// params are a sensor's model parameters with every default filled in.
type params struct {
	name        string
	interval    time.Duration
	base        float64
	amplitude   float64
	peakHour    float64
	drift       float64 // std dev per hour
	noise       float64
	decimals    int
	min, max    float64
	anomalyRate float64
	labels      map[string]string
}

// kindDefaults are realistic levels: °C, %RH, hPa, g RMS, % CPU, V.
var kindDefaults = map[string]params{
	"temperature": {base: 22, amplitude: 3, peakHour: 15, drift: 0.05, noise: 0.03, decimals: 2, min: -40, max: 85},
	"humidity":    {base: 45, amplitude: 8, peakHour: 5, drift: 0.2, noise: 0.08, decimals: 2, min: 0, max: 100},
	"pressure":    {base: 1013.25, amplitude: 0.8, peakHour: 10, drift: 0.3, noise: 0.05, decimals: 1, min: 870, max: 1085},
	"vibration":   {base: 0.02, amplitude: 0.005, peakHour: 14, drift: 0.001, noise: 0.003, decimals: 4, min: 0, max: 16},
	"cpu":         {base: 30, amplitude: 15, peakHour: 14, drift: 1, noise: 4, decimals: 1, min: 0, max: 100},
	"voltage":     {base: 3.0, amplitude: 0.02, peakHour: 13, drift: 0.002, noise: 0.004, decimals: 3, min: 0, max: 5},
	"custom":      {decimals: 2, min: math.Inf(-1), max: math.Inf(1)},
}

func (s Sensor) resolve(c *Config) params {
	kind := s.Kind
	if kind == "" {
		kind = "custom"
		if _, ok := kindDefaults[s.Name]; ok {
			kind = s.Name
		}
	}
	p := kindDefaults[kind]
	p.name = s.Name
	p.interval = c.Interval
	if s.Interval > 0 {
		p.interval = s.Interval
	}
	p.anomalyRate = c.AnomalyRate
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.base, s.Base)
	set(&p.amplitude, s.DailyAmplitude)
	set(&p.peakHour, s.PeakHour)
	set(&p.drift, s.Drift)
	set(&p.noise, s.Noise)
	set(&p.min, s.Min)
	set(&p.max, s.Max)
	set(&p.anomalyRate, s.AnomalyRate)
	if s.Decimals != nil {
		p.decimals = *s.Decimals
	}
	p.labels = s.Labels
	return p
}
