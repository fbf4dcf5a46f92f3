package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// SourceConfig configures the file source.
type SourceConfig struct {
	Path    string    `yaml:"path" doc:"CSV or JSON-lines file to replay." required:"true" example:"../shared/data/nab/ambient_temperature_system_failure.csv"`
	Format  string    `yaml:"format" doc:"File format; auto picks csv for .csv and jsonl for .jsonl, .ndjson and .json." enum:"auto|csv|jsonl"`
	Stream  string    `yaml:"stream" doc:"Stream name of readings that do not name one. Empty: the file name without extension. In CSV with several value columns it is the prefix: stream.column."`
	Rate    float64   `yaml:"rate" doc:"Replay at most this many readings per second. 0: no limit." example:"100"`
	Speedup float64   `yaml:"speedup" doc:"Replay paced by the readings' timestamps, this many times faster than they were recorded. 0: do not pace by timestamps." example:"3600"`
	Loop    bool      `yaml:"loop" doc:"Start over at the end of the file; each pass shifts the timestamps by the span of the file plus one step, so time keeps moving forward."`
	Batch   int       `yaml:"batch" doc:"Readings per message (fewer when pacing leaves a batch unfilled)."`
	CSV     CSVConfig `yaml:"csv" doc:"How CSV columns map to readings."`
}

// CSVConfig is reading.CSVOptions in YAML.
type CSVConfig struct {
	TimeColumn    string        `yaml:"time_column" doc:"Name of the timestamp column. Empty: timestamp, ts, time, datetime or date." example:"timestamp"`
	SeqColumn     string        `yaml:"seq_column" doc:"Without a timestamp column: column of sequence numbers; a row's time is start + seq*interval." example:"reading"`
	Start         string        `yaml:"start" doc:"Without a timestamp column: time of sequence number 0 (RFC 3339 or Unix seconds)." example:"2026-01-01T00:00:00Z"`
	Interval      time.Duration `yaml:"interval" doc:"Without a timestamp column: time between sequence numbers (or rows)." example:"5s"`
	NodeColumn    string        `yaml:"node_column" doc:"Column giving each row's node. Empty: a column named node, if any; otherwise the edge node's id." example:"mote_id"`
	StreamColumn  string        `yaml:"stream_column" doc:"Column giving each row's stream. Empty: a column named stream, if any."`
	ValueColumns  []string      `yaml:"value_columns" doc:"Columns holding values. Empty: every column not used otherwise." example:"[humidity, temperature]"`
	LabelColumns  []string      `yaml:"label_columns" doc:"Columns copied into each reading's labels." example:"[label]"`
	IgnoreColumns []string      `yaml:"ignore_columns" doc:"Columns to leave out." example:"[indoor]"`
	Comma         string        `yaml:"comma" doc:"Field separator, one character." example:";"`
}

func defaultSourceConfig() *SourceConfig {
	return &SourceConfig{Format: "auto", Batch: 100, CSV: CSVConfig{Comma: ","}}
}

// Validate checks the config and names the bad field.
func (c *SourceConfig) Validate() error {
	if c.Path == "" {
		return stages.FieldErrorf("path", "path is empty: name the file to replay")
	}
	if !slices.Contains([]string{"auto", "csv", "jsonl"}, c.Format) {
		return stages.FieldErrorf("format", "format %q unknown (want auto|csv|jsonl)", c.Format)
	}
	if _, err := c.format(); err != nil {
		return stages.FieldErrorf("format", "%w", err)
	}
	if !(c.Rate >= 0) || c.Rate > 1e9 {
		return stages.FieldErrorf("rate", "rate %v must be in [0, 1e9]", c.Rate)
	}
	if !(c.Speedup >= 0) || c.Speedup > 1e12 {
		return stages.FieldErrorf("speedup", "speedup %v must be in [0, 1e12]", c.Speedup)
	}
	if c.Batch < 1 {
		return stages.FieldErrorf("batch", "batch %d must be at least 1", c.Batch)
	}
	if c.CSV.Start != "" {
		if _, err := reading.ParseTime(c.CSV.Start); err != nil {
			return stages.FieldErrorf("csv.start", "%w", err)
		}
	}
	if c.CSV.Interval < 0 {
		return stages.FieldErrorf("csv.interval", "interval %v must not be negative", c.CSV.Interval)
	}
	if len([]rune(c.CSV.Comma)) > 1 || c.CSV.Comma == "\n" || c.CSV.Comma == "\r" || c.CSV.Comma == `"` {
		return stages.FieldErrorf("csv.comma", "comma %q must be one character other than a quote or newline", c.CSV.Comma)
	}
	return nil
}

// format resolves "auto" from the file extension.
func (c *SourceConfig) format() (string, error) {
	if c.Format != "auto" {
		return c.Format, nil
	}
	switch ext := strings.ToLower(filepath.Ext(c.Path)); ext {
	case ".csv":
		return "csv", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	default:
		return "", fmt.Errorf("cannot tell the format of %q from its extension %q: set format: csv or jsonl", c.Path, ext)
	}
}

// Source replays a CSV or JSON-lines file.
type Source struct {
	cfg      *SourceConfig
	format   string
	stream   string
	node     string
	csvOpts  reading.CSVOptions
	log      *slog.Logger
	env      stages.Env // for dead letters
	badLines atomic.Int64
	sent     atomic.Int64
	now      func() time.Time
}

func buildSource(_ context.Context, cfg *SourceConfig, env stages.Env) (stages.Source, error) {
	format, err := cfg.format()
	if err != nil {
		return nil, stages.FieldErrorf("format", "%w", err)
	}
	// Fail early on a missing file; Read opens it again for every pass.
	f, err := os.Open(cfg.Path)
	if err != nil {
		return nil, stages.FieldErrorf("path", "%w", err)
	}
	f.Close()
	stream := cfg.Stream
	if stream == "" {
		stream = strings.TrimSuffix(filepath.Base(cfg.Path), filepath.Ext(cfg.Path))
	}
	s := &Source{cfg: cfg, format: format, stream: stream, node: env.Node.ID, log: env.Log(), env: env, now: time.Now}
	s.csvOpts = reading.CSVOptions{
		TimeColumn: cfg.CSV.TimeColumn, SeqColumn: cfg.CSV.SeqColumn, Interval: cfg.CSV.Interval,
		NodeColumn: cfg.CSV.NodeColumn, StreamColumn: cfg.CSV.StreamColumn,
		ValueColumns: cfg.CSV.ValueColumns, LabelColumns: cfg.CSV.LabelColumns, IgnoreColumns: cfg.CSV.IgnoreColumns,
		Node: env.Node.ID, Stream: cfg.Stream,
	}
	if s.csvOpts.Stream == "" {
		s.csvOpts.Stream = stream
	}
	if cfg.CSV.Start != "" {
		s.csvOpts.Start, _ = reading.ParseTime(cfg.CSV.Start)
	}
	if r := []rune(cfg.CSV.Comma); len(r) == 1 {
		s.csvOpts.Comma = r[0]
	}
	return s, nil
}

// BadLines is the number of lines skipped because they did not parse.
func (s *Source) BadLines() int64 { return s.badLines.Load() }

// Sent is the number of readings acknowledged by the pipeline.
func (s *Source) Sent() int64 { return s.sent.Load() }

type nextReader interface {
	Next(dst []reading.Reading) ([]reading.Reading, error)
}

// replay is the pacing state across passes.
type replay struct {
	wallStart time.Time
	firstTime time.Time // time of the first reading of the first pass
	shift     time.Duration
	count     int64 // readings handed to batches so far
}

// Read replays the file (again and again with loop) until its end, ctx ends or
// emitting fails. Batches are pipelined through a stages.Window; Read returns
// only once every batch it emitted was acknowledged (or ctx ended).
func (s *Source) Read(ctx context.Context, emit stages.EmitFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := &replay{wallStart: s.now()}
	// Many batches in flight: each is acknowledged only once its readings are
	// written, which behind an encoder can take up to its max_age.
	w := stages.NewWindow(ctx, emit, func(err error, wait time.Duration) {
		s.log.Warn("file source: batch nacked; retrying", "path", s.cfg.Path, "err", err, "wait", wait)
	})
	for pass := 0; ; pass++ {
		first, last, step, n, err := s.pass(ctx, w, st)
		if err != nil {
			return err
		}
		if !s.cfg.Loop {
			return w.Wait(ctx)
		}
		if n == 0 {
			return fmt.Errorf("%s: no readings to loop over", s.cfg.Path)
		}
		st.shift += last.Sub(first) + step
		s.log.Debug("file: starting over", "path", s.cfg.Path, "pass", pass+1)
	}
}

// pass reads the file once; it returns the first and last reading times (before
// shifting), the last step between readings and the number of readings.
func (s *Source) pass(ctx context.Context, w *stages.Window, st *replay) (first, last time.Time, step time.Duration, n int64, err error) {
	f, err := os.Open(s.cfg.Path)
	if err != nil {
		return first, last, step, 0, fmt.Errorf("file source: %w", err)
	}
	defer f.Close()
	var r nextReader
	if s.format == "csv" {
		r = reading.NewCSVReader(f, s.csvOpts)
	} else {
		r = reading.NewJSONLReader(f, reading.JSONOptions{Node: s.node, Stream: s.stream})
	}
	batch := make([]reading.Reading, 0, s.cfg.Batch)
	var rs []reading.Reading
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n := int64(len(batch))
		if err := w.Emit(ctx, reading.NewMessage(batch), func() { s.sent.Add(n) }); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return first, last, step, n, err
		}
		rs, err = r.Next(rs[:0])
		var le *reading.LineError
		switch {
		case errors.As(err, &le):
			s.badLines.Add(1)
			s.log.Warn(fmt.Sprintf("%s:%d: %v", s.cfg.Path, le.Line, le.Err), "skipped", s.badLines.Load())
			if err := s.deadLetter(ctx, le); err != nil {
				return first, last, step, n, err
			}
			continue
		case err == io.EOF:
			return first, last, step, n, flush()
		case err != nil:
			return first, last, step, n, fmt.Errorf("%s: %w", s.cfg.Path, err)
		}
		for _, rd := range rs {
			if n == 0 {
				first = rd.Time
			} else if d := rd.Time.Sub(last); d > 0 {
				step = d
			}
			last = rd.Time
			n++
			rd.Time = rd.Time.Add(st.shift)
			if st.count == 0 {
				st.firstTime = rd.Time
			}
			if wait := s.waitFor(st, rd.Time); wait > 0 {
				if err := flush(); err != nil {
					return first, last, step, n, err
				}
				if wait = s.waitFor(st, rd.Time); wait > 0 {
					if err := stages.Sleep(ctx, wait); err != nil {
						return first, last, step, n, err
					}
				}
			}
			if rd.Node == "" {
				rd.Node = s.node
			}
			batch = append(batch, rd)
			st.count++
			if len(batch) == s.cfg.Batch {
				if err := flush(); err != nil {
					return first, last, step, n, err
				}
			}
		}
	}
}

// waitFor is how long to wait before the next reading (time t) may go out.
func (s *Source) waitFor(st *replay, t time.Time) time.Duration {
	var due time.Time
	if s.cfg.Rate > 0 {
		due = st.wallStart.Add(time.Duration(float64(st.count) / s.cfg.Rate * float64(time.Second)))
	}
	if s.cfg.Speedup > 0 {
		if d := st.wallStart.Add(time.Duration(float64(t.Sub(st.firstTime)) / s.cfg.Speedup)); d.After(due) {
			due = d
		}
	}
	if due.IsZero() {
		return 0
	}
	return due.Sub(s.now())
}

var _ stages.Source = (*Source)(nil)
