package reading

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLineBytes is the longest JSON line a JSONLReader accepts by default.
const DefaultMaxLineBytes = 1 << 20

// JSONLReader reads readings from JSON lines (one object per line, as
// ParseJSONLine reads them), one line at a time. Blank lines are skipped.
type JSONLReader struct {
	br      *bufio.Reader
	opts    JSONOptions
	maxLine int
	line    int
	buf     []byte
	fatal   error
}

// NewJSONLReader returns a reader of r; opts fill in a missing node or stream.
func NewJSONLReader(r io.Reader, opts JSONOptions) *JSONLReader {
	return &JSONLReader{br: bufio.NewReaderSize(r, 64<<10), opts: opts, maxLine: DefaultMaxLineBytes}
}

// SetMaxLineBytes changes the longest accepted line (default DefaultMaxLineBytes).
func (r *JSONLReader) SetMaxLineBytes(n int) { r.maxLine = n }

// Next reads one non-blank line and appends its readings to dst. A bad line
// (including one over the length limit) gives a *LineError: the caller may log
// it and call Next again. At the end of the input Next returns io.EOF; a read
// failure is final.
func (r *JSONLReader) Next(dst []Reading) ([]Reading, error) {
	for {
		if r.fatal != nil {
			return dst, r.fatal
		}
		line, tooLong, err := r.readLine()
		if err != nil && !(errors.Is(err, io.EOF) && (len(line) > 0 || tooLong)) {
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("line %d: %w", r.line+1, err)
			}
			r.fatal = err
			return dst, err
		}
		r.line++
		if tooLong {
			return dst, &LineError{Line: r.line, Err: fmt.Errorf("line longer than %d bytes", r.maxLine), Text: bytes.Clone(line)}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out, perr := ParseJSONLineOptions(line, dst, r.opts)
		if perr != nil {
			return dst, &LineError{Line: r.line, Err: perr, Text: bytes.Clone(line)}
		}
		return out, nil
	}
}

// readLine returns the next line without its newline. Over-long lines are
// consumed up to their end and reported with tooLong. err is io.EOF after a last
// line without a newline (line non-empty) or at the end (line empty).
func (r *JSONLReader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.buf)+len(chunk) > r.maxLine+1 {
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(r.buf, []byte("\n")), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return r.buf, tooLong, err
		}
	}
}
