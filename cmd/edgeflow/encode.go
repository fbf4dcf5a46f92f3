package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

const encodeUsage = `Usage: edgeflow encode [flags] [FILE]

Reads readings from FILE (or standard input) and writes them as concatenated
frames, the format the encode stage sends to the cloud. Input is CSV with a
header line ("timestamp,value"; RFC 3339 or "2006-01-02 15:04:05" timestamps)
or JSON lines ({"stream":"t","ts":"2026-01-02T15:04:05Z","value":21.5});
the format is detected from the first byte unless --format says it.
Each stream's readings are cut into frames of --block readings.

A bad input line is an error naming FILE:LINE (exit 1); with --skip-bad it is
reported on standard error and skipped.

Examples:
  edgeflow encode -o temp.frames temperature.csv
  edgeflow encode --codec lz4 --stats < readings.jsonl > readings.frames
  edgeflow encode --max-error 0.01 --stream boiler -o boiler.frames boiler.csv
  edgeflow encode temperature.csv | edgeflow decode   # round trip`

func init() {
	c := command{name: "encode", summary: "compress readings (CSV or JSON lines) into frames", usage: encodeUsage}
	c.run = func(ctx context.Context, args []string, io stdio) error { return runEncode(ctx, c, args, io) }
	register(c)
}

// encodeFlags are the flags of edgeflow encode.
type encodeFlags struct {
	output, format, node, stream string
	skipBad, stats               bool
	cfg                          encode.Config
}

func runEncode(ctx context.Context, c command, args []string, stdio stdio) error {
	var f encodeFlags
	f.cfg = *encode.DefaultConfig()
	fs := newFlagSet(c, stdio.err)
	fs.StringVar(&f.output, "o", "", "write frames to `FILE` instead of standard output")
	fs.StringVar(&f.format, "format", "auto", "input format: auto, csv or jsonl")
	fs.StringVar(&f.cfg.Codec, "codec", f.cfg.Codec, "back end: zlib, lz4, zstd, none, or f32-diff-zlib (lossy reference method)")
	fs.IntVar(&f.cfg.Level, "level", 0, "back-end compression level (0: the back end's default)")
	fs.Float64Var(&f.cfg.MaxError, "max-error", 0, "bounded-error mode: decoded values are within this of the input (0: lossless)")
	fs.BoolVar(&f.cfg.Relative, "relative", false, "read --max-error as a fraction of each value")
	fs.IntVar(&f.cfg.BlockSize, "block", f.cfg.BlockSize, "readings per frame")
	fs.StringVar(&f.node, "node", "", "node id of readings that do not name one")
	fs.StringVar(&f.stream, "stream", "", "stream name of readings that do not name one (default: FILE's base name without extension, or \"value\")")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "report bad input lines on standard error and skip them")
	fs.BoolVar(&f.stats, "stats", false, "print the compression ratio and bits per value on standard error")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return errUsage
	}
	if err := f.cfg.Validate(); err != nil {
		return fmt.Errorf("--%s: %w", strings.ReplaceAll(flagOfField(stages.FieldOf(err)), "_", "-"), err)
	}
	opts, err := f.cfg.Options()
	if err != nil {
		return err
	}
	enc, err := frame.NewEncoder(opts)
	if err != nil {
		return err
	}
	in, name, closeIn, err := openInput(files, stdio)
	if err != nil {
		return err
	}
	defer closeIn()
	if f.stream == "" {
		f.stream = "value"
		if name != "-" {
			f.stream = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		}
	}
	counted := &countingReader{r: in}
	br := bufio.NewReaderSize(counted, 64<<10)
	next, err := readingReader(br, name, f.format, f.node, f.stream)
	if err != nil {
		return err
	}
	out, commit, discard, err := openOutput(f.output, stdio)
	if err != nil {
		return err
	}
	defer discard()
	st := encodeStats{}
	batches := newStreamBatches(enc, f.cfg.BlockSize)
	var rs []reading.Reading
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rs, err = next(rs[:0])
		if errors.Is(err, io.EOF) {
			break
		}
		var le *reading.LineError
		if errors.As(err, &le) {
			if !f.skipBad {
				return fmt.Errorf("%s:%d: %w", name, le.Line, le.Err)
			}
			st.skipped++
			fmt.Fprintf(stdio.err, "%s:%d: %v (skipped)\n", name, le.Line, le.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, r := range rs {
			if err := batches.add(r, out); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if err := batches.flush(out); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := commit(); err != nil {
		return err
	}
	if f.stats {
		st.readings, st.frames, st.bytes, st.streams = batches.readings, batches.frames, batches.bytes, len(batches.order)
		st.inputBytes = counted.n
		st.print(stdio.err)
	}
	if st.skipped > 0 {
		fmt.Fprintf(stdio.err, "%s: %d bad lines skipped\n", name, st.skipped)
	}
	return nil
}

// flagOfField maps a config field to the flag that sets it.
func flagOfField(field string) string {
	switch field {
	case "block_size":
		return "block"
	}
	return field
}

// parseInterspersed parses flags that may come before or after the positional
// arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: 2, err: errors.New("")}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openInput opens the one file named, or standard input for none or "-".
func openInput(files []string, stdio stdio) (r io.Reader, name string, closeFn func(), err error) {
	if len(files) == 0 || files[0] == "-" {
		return stdio.in, "-", func() {}, nil
	}
	f, err := os.Open(files[0])
	if err != nil {
		return nil, "", nil, err
	}
	return f, files[0], func() { f.Close() }, nil
}

// openOutput returns a buffered writer to path (or standard output for "" or
// "-"). commit flushes it; a file is written under a temporary name and renamed
// into place only by commit, and discard (safe to defer, a no-op after commit)
// removes it, so a failed run leaves no partial output.
func openOutput(path string, stdio stdio) (w *bufio.Writer, commit func() error, discard func(), err error) {
	if path == "" || path == "-" {
		w = bufio.NewWriterSize(stdio.out, 64<<10)
		return w, w.Flush, func() {}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, nil, nil, err
	}
	w = bufio.NewWriterSize(tmp, 64<<10)
	done := false
	discard = func() {
		if !done {
			done = true
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}
	commit = func() error {
		if err := w.Flush(); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
		done = true
		return nil
	}
	return w, commit, discard, nil
}

// readingReader returns a function reading the next input record's readings:
// it returns *reading.LineError for a bad line, io.EOF at the end.
func readingReader(br *bufio.Reader, name, format, node, stream string) (func([]reading.Reading) ([]reading.Reading, error), error) {
	if format == "auto" {
		format = "csv"
		peek, _ := br.Peek(512)
		peek = bytes.TrimLeft(bytes.TrimPrefix(peek, []byte("\ufeff")), " \t\r\n")
		if len(peek) > 0 && peek[0] == '{' {
			format = "jsonl"
		}
	}
	switch format {
	case "csv":
		return reading.NewCSVReader(br, reading.CSVOptions{Node: node, Stream: stream}).Next, nil
	case "jsonl":
		return reading.NewJSONLReader(br, reading.JSONOptions{Node: node, Stream: stream}).Next, nil
	}
	return nil, fmt.Errorf("--format %q unknown (want auto|csv|jsonl)", format)
}

// streamBatches cuts readings into per-(node, stream) blocks of blockSize and
// writes each full block as a frame.
type streamBatches struct {
	enc       *frame.Encoder
	blockSize int
	blocks    map[[2]string]*frame.Block
	order     [][2]string // streams in order of first appearance
	buf       []byte

	readings, frames int
	bytes            int64
}

func newStreamBatches(enc *frame.Encoder, blockSize int) *streamBatches {
	return &streamBatches{enc: enc, blockSize: blockSize, blocks: map[[2]string]*frame.Block{}}
}

func (s *streamBatches) add(r reading.Reading, w io.Writer) error {
	key := [2]string{r.Node, r.Stream}
	b := s.blocks[key]
	if b == nil {
		b = &frame.Block{Node: r.Node, Stream: r.Stream}
		s.blocks[key] = b
		s.order = append(s.order, key)
	}
	if y := r.Time.Year(); y < 1678 || y > 2261 {
		return fmt.Errorf("stream %q: timestamp %s outside the years 1678-2261 that Unix nanoseconds can hold", r.Stream, r.Time.Format("2006-01-02T15:04:05Z07:00"))
	}
	b.Timestamps = append(b.Timestamps, r.Time.UnixNano())
	b.Values = append(b.Values, r.Value)
	if len(b.Values) >= s.blockSize {
		return s.write(b, w)
	}
	return nil
}

func (s *streamBatches) write(b *frame.Block, w io.Writer) error {
	b.Seq++
	var err error
	s.buf, err = s.enc.Encode(s.buf[:0], b)
	if err != nil {
		return fmt.Errorf("node %q stream %q frame %d: %w", b.Node, b.Stream, b.Seq, err)
	}
	if _, err := w.Write(s.buf); err != nil {
		return err
	}
	s.readings += len(b.Values)
	s.frames++
	s.bytes += int64(len(s.buf))
	b.Timestamps, b.Values = b.Timestamps[:0], b.Values[:0]
	return nil
}

func (s *streamBatches) flush(w io.Writer) error {
	for _, key := range s.order {
		if b := s.blocks[key]; len(b.Values) > 0 {
			if err := s.write(b, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// encodeStats summarises a run of encode or decode for --stats.
type encodeStats struct {
	readings, frames, streams, skipped int
	bytes, inputBytes                  int64
}

func (st encodeStats) print(w io.Writer) {
	if st.readings == 0 {
		fmt.Fprintf(w, "stats: no readings, %d frame bytes\n", st.bytes)
		return
	}
	n := float64(st.readings)
	fmt.Fprintf(w, "stats: %s, %s, %s, %d frame bytes\n",
		plural(st.readings, "reading"), plural(st.streams, "stream"), plural(st.frames, "frame"), st.bytes)
	fmt.Fprintf(w, "stats: %.2f bits/value (whole frames: values, timestamps and headers)\n", float64(st.bytes)*8/n)
	fmt.Fprintf(w, "stats: ratio %.2f:1 vs raw float64 values (8 bytes each), %.2f:1 vs float64 values + int64 timestamps (16 bytes)\n",
		n*8/float64(st.bytes), n*16/float64(st.bytes))
	if st.inputBytes > 0 {
		fmt.Fprintf(w, "stats: ratio %.2f:1 vs the %d bytes of text\n", float64(st.inputBytes)/float64(st.bytes), st.inputBytes)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// plural spells n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
