package generate

import (
	"context"
	"log/slog"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "generate",
		Summary: "Simulated sensors: daily cycles, drift, noise, quantisation and labelled anomalies, repeatable by seed.",
		Description: `Generates readings of simulated sensors. Each sensor's value is its base level plus a
24-hour cycle (daily_amplitude, peaking at peak_hour UTC), a slow mean-reverting random-walk
drift and Gaussian noise, clamped to [min, max] and rounded to the sensor's decimals, as real
motes report them. The kind (temperature, humidity, pressure, vibration, cpu, voltage) sets
realistic defaults for every field left out; a sensor without a kind takes the defaults of the
kind matching its name, if any.

Anomalies start with probability anomaly_rate per reading and are labelled anomaly=<kind> on
the readings they affect: spike (one outlier), shift (the level moves for 30-300 readings),
stuck (the last value repeats for 20-200 readings) and dropout (5-100 readings are missing;
the first reading after the gap carries the label).

On every tick the readings of all sensors due at that instant go out as one message of kind
readings, with the node id of the edge node. The same seed and start give the same readings.
With realtime the source waits for the clock (sped up by speedup); without it, it generates as
fast as the pipeline acknowledges. count or duration end the source; otherwise it runs until
stopped. A nacked message is retried after a short backoff.`,
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "A room: temperature and humidity every 5 s, in real time", YAML: `type: generate
sensors:
  - name: temperature
    interval: 5s
  - name: humidity
    interval: 5s`},
			{Title: "One simulated day of three sensors as fast as possible, repeatable", YAML: `type: generate
seed: 7
start: 2026-01-01T00:00:00Z
realtime: false
duration: 24h
interval: 10s
anomaly_rate: 0.002
sensors:
  - name: motor.vibration
    kind: vibration
    interval: 1s
  - name: cabinet.temperature
    kind: temperature
    decimals: 1
  - name: cpu
    kind: cpu
    labels: {host: gw-1}`},
		},
	}, defaultConfig, build)
}

// Source is the generate source.
type Source struct {
	cfg     *Config
	node    string
	log     *slog.Logger
	start   time.Time
	sensors []*sensor
	now     func() time.Time
}

func build(_ context.Context, cfg *Config, env stages.Env) (stages.Source, error) {
	start := time.Now().UTC().Truncate(time.Millisecond)
	if cfg.Start != "" {
		t, err := reading.ParseTime(cfg.Start)
		if err != nil {
			return nil, stages.FieldErrorf("start", "%w", err)
		}
		start = t
	}
	s := &Source{cfg: cfg, node: env.Node.ID, log: env.Log(), start: start, now: time.Now}
	for _, sc := range cfg.Sensors {
		s.sensors = append(s.sensors, newSensor(sc.resolve(cfg), cfg.Anomalies, cfg.Seed, start))
	}
	return s, nil
}

// Read generates readings until count or duration is reached (nil) or ctx ends.
func (s *Source) Read(ctx context.Context, emit stages.EmitFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wallStart := s.now()
	var batch []reading.Reading
	// Many messages in flight: each is acknowledged only once its readings are
	// written, which behind an encoder can take up to its max_age.
	window := stages.NewWindow(ctx, emit, func(err error, wait time.Duration) {
		s.log.Warn("generate: message nacked; retrying", "err", err, "wait", wait)
	})
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		due, ok := s.nextDue()
		if !ok {
			return window.Wait(ctx)
		}
		if s.cfg.Realtime {
			wait := wallStart.Add(time.Duration(float64(due.Sub(s.start)) / s.cfg.Speedup)).Sub(s.now())
			if err := stages.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		batch = batch[:0]
		for _, sn := range s.sensors {
			if s.active(sn) && sn.due().Equal(due) {
				if r, ok := sn.next(s.node); ok {
					batch = append(batch, r)
				}
			}
		}
		if len(batch) == 0 {
			continue // every sensor due is in a dropout
		}
		if err := window.Emit(ctx, reading.NewMessage(batch), nil); err != nil {
			return err
		}
	}
}

// nextDue is the earliest next reading time among the sensors still running.
func (s *Source) nextDue() (time.Time, bool) {
	var due time.Time
	found := false
	for _, sn := range s.sensors {
		if !s.active(sn) {
			continue
		}
		if d := sn.due(); !found || d.Before(due) {
			due, found = d, true
		}
	}
	return due, found
}

// active reports whether sn has readings left under count and duration.
func (s *Source) active(sn *sensor) bool {
	if s.cfg.Count > 0 && sn.tick >= int64(s.cfg.Count) {
		return false
	}
	if s.cfg.Duration > 0 && sn.due().Sub(s.start) >= s.cfg.Duration {
		return false
	}
	return true
}

var _ stages.Source = (*Source)(nil)
