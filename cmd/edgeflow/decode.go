package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

const decodeUsage = `Usage: edgeflow decode [flags] [FILE]

Reads concatenated frames (as written by "edgeflow encode" or carried in Kafka
messages by the encode stage) from FILE or standard input and prints their
readings: CSV "timestamp,value" with RFC 3339 UTC timestamps (as precise as
needed, trailing zeros trimmed) and values spelled so they parse back to the
same bits (NaN, +Inf, -Inf, -0 included), or JSON lines with node and stream.
CSV holds one stream: frames of several streams need --format jsonl or
--stream to pick one.

Examples:
  edgeflow decode temp.frames > temp.csv
  edgeflow decode --format jsonl --stats < readings.frames
  edgeflow decode --stream boiler -o boiler.csv mixed.frames`

func init() {
	c := command{name: "decode", summary: "print the readings held in frames as CSV or JSON lines", usage: decodeUsage}
	c.run = func(ctx context.Context, args []string, io stdio) error { return runDecode(ctx, c, args, io) }
	register(c)
}

func runDecode(ctx context.Context, c command, args []string, stdio stdio) error {
	var output, format, node, stream string
	var skipBad, stats bool
	fs := newFlagSet(c, stdio.err)
	fs.StringVar(&output, "o", "", "write readings to `FILE` instead of standard output")
	fs.StringVar(&format, "format", "csv", "output format: csv or jsonl")
	fs.StringVar(&node, "node", "", "print only frames of this node")
	fs.StringVar(&stream, "stream", "", "print only frames of this stream")
	fs.BoolVar(&skipBad, "skip-bad", false, "report frames that do not decode on standard error and skip them")
	fs.BoolVar(&stats, "stats", false, "print the compression ratio and bits per value on standard error")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return errUsage
	}
	if format != "csv" && format != "jsonl" {
		return fmt.Errorf("--format %q unknown (want csv|jsonl)", format)
	}
	in, name, closeIn, err := openInput(files, stdio)
	if err != nil {
		return err
	}
	defer closeIn()
	out, commit, discard, err := openOutput(output, stdio)
	if err != nil {
		return err
	}
	defer discard()

	w := frameWriter{out: out, csv: format == "csv"}
	frames := frameScanner{r: bufio.NewReaderSize(in, 64<<10)}
	dec := frame.NewDecoder()
	var block frame.Block
	var st encodeStats
	streams := map[[2]string]bool{}
	for index := 1; ; index++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		at := frames.offset
		src, err := frames.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Without a length the rest cannot be split into frames.
			return fmt.Errorf("%s: frame %d at byte %d: %w", name, index, at, err)
		}
		h, err := dec.Decode(src, &block)
		if err != nil {
			err = fmt.Errorf("%s: frame %d at byte %d: %w", name, index, at, err)
			if !skipBad {
				return err
			}
			st.skipped++
			fmt.Fprintf(stdio.err, "%v (skipped)\n", err)
			continue
		}
		if (node != "" && h.Node != node) || (stream != "" && h.Stream != stream) {
			continue
		}
		streams[[2]string{h.Node, h.Stream}] = true
		if w.csv && len(streams) > 1 {
			return fmt.Errorf("%s: frame %d holds stream %q of node %q but earlier frames hold another: CSV holds one stream, use --format jsonl or --stream", name, index, h.Stream, h.Node)
		}
		w.block(&block)
		st.frames++
		st.readings += len(block.Values)
		st.bytes += int64(len(src))
	}
	if err := w.err; err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	if stats {
		st.streams = len(streams)
		st.print(stdio.err)
	}
	if st.skipped > 0 {
		return fmt.Errorf("%s: %d frames skipped", name, st.skipped)
	}
	return nil
}

// frameWriter prints decoded blocks as CSV (header first) or JSON lines.
type frameWriter struct {
	out    *bufio.Writer
	csv    bool
	header bool
	buf    []byte
	err    error
}

func (w *frameWriter) block(b *frame.Block) {
	if w.err != nil {
		return
	}
	buf := w.buf[:0]
	if w.csv && !w.header {
		buf = append(buf, "timestamp,value\n"...)
		w.header = true
	}
	for i, ts := range b.Timestamps {
		t := time.Unix(0, ts).UTC()
		if w.csv {
			buf = t.AppendFormat(buf, time.RFC3339Nano)
			buf = append(buf, ',')
			buf = reading.AppendValue(buf, b.Values[i])
		} else {
			buf = reading.AppendJSON(buf, reading.Reading{Node: b.Node, Stream: b.Stream, Time: t, Value: b.Values[i]})
		}
		buf = append(buf, '\n')
	}
	w.buf = buf
	_, w.err = w.out.Write(buf)
}

// maxHeaderBytes bounds a frame header: magic, version, codec, flags, two names
// of at most frame.MaxNameLen bytes and a few varints.
const maxHeaderBytes = 16 + 2*(frame.MaxNameLen+10) + 6*10

// frameScanner splits a byte stream into frames without reading it all first.
type frameScanner struct {
	r      *bufio.Reader
	buf    []byte
	offset int64 // of the next frame
}

// next returns the next whole frame (valid until the following call), or io.EOF
// at a clean end of input.
func (s *frameScanner) next() ([]byte, error) {
	head, err := s.r.Peek(maxHeaderBytes)
	if len(head) == 0 {
		if err == nil || err == io.EOF {
			return nil, io.EOF
		}
		return nil, err
	}
	n, err := frame.FrameLen(head)
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > frame.MaxFrameSize {
		return nil, fmt.Errorf("%w: frame length %d", frame.ErrCorrupt, n)
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if got, err := io.ReadFull(s.r, s.buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("%w: frame of %d bytes truncated to %d", frame.ErrCorrupt, n, got)
		}
		return nil, err
	}
	s.offset += int64(n)
	return s.buf, nil
}
