package reading

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CSVOptions say how to turn CSV columns into readings. The zero value reads
// "timestamp,value" files such as the NAB data set into the stream "value".
type CSVOptions struct {
	// Comma is the field separator; 0 means ','.
	Comma rune
	// TimeColumn names the timestamp column (parsed by ParseTime). Empty: the
	// first of "timestamp", "ts", "time", "datetime", "date" (any case) present.
	TimeColumn string
	// SeqColumn, used when the file has no timestamp column, names a column of
	// integer sequence numbers: the time of a row is Start + seq*Interval. Without
	// it, the time of the n-th data row (from 0) is Start + n*Interval.
	SeqColumn string
	// Start and Interval synthesise times for files without a timestamp column.
	Start    time.Time
	Interval time.Duration
	// NodeColumn and StreamColumn name optional columns giving each row's node and
	// stream. Empty: a column named "node" / "stream" is used if present.
	NodeColumn   string
	StreamColumn string
	// ValueColumns lists the columns holding values. Empty: every column that is
	// not the time, seq, node, stream, label or ignored column.
	ValueColumns []string
	// LabelColumns are copied into each reading's labels (column name → cell).
	LabelColumns []string
	// IgnoreColumns are skipped.
	IgnoreColumns []string
	// Node is the node of readings without a node column.
	Node string
	// Stream names the readings. A single value column called "value" gives the
	// stream Stream (or "value" when Stream is empty); any other value column C
	// gives the stream "Stream.C" (or just "C"). A stream column, when present,
	// replaces Stream.
	Stream string
}

// CSVReader reads readings from CSV with a header line, one row at a time.
// Empty value cells are skipped (no reading for that column in that row).
type CSVReader struct {
	csv  *csv.Reader
	opts CSVOptions

	header     bool  // header read
	fatal      error // sticky error about the header or the input
	timeCol    int   // -1: none
	seqCol     int   // -1: none
	nodeCol    int   // -1: none
	streamCol  int   // -1: none
	valueCols  []int
	valueNames []string // stream suffix per value column, "" for a lone "value" column
	labelCols  []int
	names      []string
	row        int // data rows seen
}

// NewCSVReader returns a reader of r. The header is read by the first Next.
func NewCSVReader(r io.Reader, opts CSVOptions) *CSVReader {
	c := csv.NewReader(r)
	if opts.Comma != 0 {
		c.Comma = opts.Comma
	}
	c.FieldsPerRecord = -1
	c.TrimLeadingSpace = true
	c.ReuseRecord = true
	return &CSVReader{csv: c, opts: opts, timeCol: -1, seqCol: -1, nodeCol: -1, streamCol: -1}
}

// Next reads one data row and appends its readings to dst (a row may hold
// several, or none when all its value cells are empty). A bad row gives a
// *LineError: the caller may log it and call Next again. At the end of the input
// Next returns io.EOF; any other error (a bad header, a read failure) is final.
func (r *CSVReader) Next(dst []Reading) ([]Reading, error) {
	if r.fatal != nil {
		return dst, r.fatal
	}
	if !r.header {
		if err := r.readHeader(); err != nil {
			r.fatal = err
			return dst, err
		}
	}
	rec, err := r.csv.Read()
	if err != nil {
		if err == io.EOF {
			r.fatal = io.EOF
			return dst, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return dst, &LineError{Line: pe.Line, Err: pe.Err}
		}
		r.fatal = fmt.Errorf("reading CSV: %w", err)
		return dst, r.fatal
	}
	line, _ := r.csv.FieldPos(0)
	row := r.row
	r.row++
	if len(rec) != len(r.names) {
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			return dst, nil // blank line
		}
		return dst, r.lineError(line, rec, fmt.Errorf("%d fields, header has %d", len(rec), len(r.names)))
	}
	t, err := r.rowTime(rec, row)
	if err != nil {
		return dst, r.lineError(line, rec, err)
	}
	node := r.opts.Node
	if r.nodeCol >= 0 {
		node = rec[r.nodeCol]
	}
	stream := r.opts.Stream
	if r.streamCol >= 0 {
		stream = rec[r.streamCol]
		if stream == "" {
			return dst, r.lineError(line, rec, fmt.Errorf("column %q is empty", r.names[r.streamCol]))
		}
	}
	var labels map[string]string
	if len(r.labelCols) > 0 {
		labels = make(map[string]string, len(r.labelCols))
		for _, c := range r.labelCols {
			labels[r.names[c]] = rec[c]
		}
	}
	n := len(dst)
	for i, c := range r.valueCols {
		cell := strings.TrimSpace(rec[c])
		if cell == "" {
			continue
		}
		v, err := ParseValue(cell)
		if err != nil {
			return dst[:n], r.lineError(line, rec, fmt.Errorf("column %q: %w", r.names[c], err))
		}
		name := stream
		switch suffix := r.valueNames[i]; {
		case suffix == "" && name == "":
			name = "value"
		case suffix != "" && name == "":
			name = suffix
		case suffix != "":
			name += "." + suffix
		}
		dst = append(dst, Reading{Node: node, Stream: name, Time: t, Value: v, Labels: labels})
	}
	return dst, nil
}

func (r *CSVReader) rowTime(rec []string, row int) (time.Time, error) {
	switch {
	case r.timeCol >= 0:
		t, err := ParseTime(strings.TrimSpace(rec[r.timeCol]))
		if err != nil {
			return t, fmt.Errorf("column %q: %w", r.names[r.timeCol], err)
		}
		return t, nil
	case r.seqCol >= 0:
		seq, err := strconv.ParseInt(strings.TrimSpace(rec[r.seqCol]), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("column %q: %q is not an integer", r.names[r.seqCol], rec[r.seqCol])
		}
		return r.opts.Start.Add(time.Duration(seq) * r.opts.Interval), nil
	}
	return r.opts.Start.Add(time.Duration(row) * r.opts.Interval), nil
}

func (r *CSVReader) readHeader() error {
	rec, err := r.csv.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("line 1: header line missing (empty input)")
		}
		return fmt.Errorf("line 1: header: %w", err)
	}
	r.header = true
	r.names = make([]string, len(rec))
	for i, name := range rec {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		r.names[i] = strings.TrimSpace(name)
	}
	find := func(option, what string, fallbacks ...string) (int, error) {
		if option != "" {
			if i := slices.Index(r.names, option); i >= 0 {
				return i, nil
			}
			return -1, fmt.Errorf("line 1: header has no %s column %q (columns: %s)", what, option, strings.Join(r.names, ","))
		}
		for _, fb := range fallbacks {
			for i, name := range r.names {
				if strings.EqualFold(name, fb) {
					return i, nil
				}
			}
		}
		return -1, nil
	}
	if r.timeCol, err = find(r.opts.TimeColumn, "timestamp", "timestamp", "ts", "time", "datetime", "date"); err != nil {
		return err
	}
	if r.seqCol, err = find(r.opts.SeqColumn, "sequence"); err != nil {
		return err
	}
	if r.nodeCol, err = find(r.opts.NodeColumn, "node", "node"); err != nil {
		return err
	}
	if r.streamCol, err = find(r.opts.StreamColumn, "stream", "stream"); err != nil {
		return err
	}
	if r.timeCol < 0 && r.seqCol < 0 && r.opts.Interval <= 0 {
		return fmt.Errorf("line 1: header has no timestamp column (columns: %s); name one or give an interval", strings.Join(r.names, ","))
	}
	used := map[int]bool{}
	for _, c := range []int{r.timeCol, r.seqCol, r.nodeCol, r.streamCol} {
		if c >= 0 {
			used[c] = true
		}
	}
	for _, name := range r.opts.LabelColumns {
		i := slices.Index(r.names, name)
		if i < 0 {
			return fmt.Errorf("line 1: header has no label column %q", name)
		}
		r.labelCols = append(r.labelCols, i)
		used[i] = true
	}
	for _, name := range r.opts.IgnoreColumns {
		if i := slices.Index(r.names, name); i >= 0 {
			used[i] = true
		}
	}
	if len(r.opts.ValueColumns) > 0 {
		for _, name := range r.opts.ValueColumns {
			i := slices.Index(r.names, name)
			if i < 0 {
				return fmt.Errorf("line 1: header has no value column %q (columns: %s)", name, strings.Join(r.names, ","))
			}
			r.valueCols = append(r.valueCols, i)
		}
	} else {
		for i := range r.names {
			if !used[i] {
				r.valueCols = append(r.valueCols, i)
			}
		}
	}
	if len(r.valueCols) == 0 {
		return fmt.Errorf("line 1: header has no value column (columns: %s)", strings.Join(r.names, ","))
	}
	for _, c := range r.valueCols {
		suffix := r.names[c]
		if len(r.valueCols) == 1 && strings.EqualFold(suffix, "value") {
			suffix = ""
		}
		if suffix == "" && len(r.valueCols) > 1 {
			return fmt.Errorf("line 1: value column %d has no name", c+1)
		}
		r.valueNames = append(r.valueNames, suffix)
	}
	return nil
}

// lineError is the *LineError of data row rec at line, its Text the row's
// fields joined again by the separator.
func (r *CSVReader) lineError(line int, rec []string, err error) *LineError {
	comma := r.opts.Comma
	if comma == 0 {
		comma = ','
	}
	return &LineError{Line: line, Err: err, Text: []byte(strings.Join(rec, string(comma)))}
}
