package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/edgeflow/edgeflow/stages/reading"
)

// stream is one sensor's readings.
type stream struct {
	name       string
	timestamps []int64 // Unix nanoseconds
	values     []float64
}

// series is one dataset column: one or more streams measured alike.
type series struct {
	dataset, column string
	streams         []stream
}

func (s *series) count() int {
	n := 0
	for _, st := range s.streams {
		n += len(st.values)
	}
	return n
}

// loadNAB reads the value column of a NAB "timestamp,value" file.
func loadNAB(path string) (series, error) {
	f, err := os.Open(path)
	if err != nil {
		return series{}, err
	}
	defer f.Close()
	name := filepath.Base(path)
	name = name[:len(name)-len(filepath.Ext(name))]
	r := reading.NewCSVReader(f, reading.CSVOptions{Stream: name})
	st := stream{name: name}
	var rs []reading.Reading
	for {
		rs, err = r.Next(rs[:0])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return series{}, fmt.Errorf("%s: %w", path, err)
		}
		for _, rd := range rs {
			st.timestamps = append(st.timestamps, rd.Time.UnixNano())
			st.values = append(st.values, rd.Value)
		}
	}
	return series{dataset: "NAB " + name, column: "value", streams: []stream{st}}, nil
}

// loadTelosB reads multihop.csv: one series per value column, one stream per
// mote, timestamps = reading index × 5 s.
func loadTelosB(path string, columns ...string) ([]series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no data rows", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, want := range append([]string{"reading", "mote_id"}, columns...) {
		if _, ok := col[want]; !ok {
			return nil, fmt.Errorf("%s: no column %q", path, want)
		}
	}
	base := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var out []series
	for _, c := range columns {
		motes := map[string]*stream{}
		for i, row := range rows[1:] {
			idx, err := strconv.ParseInt(row[col["reading"]], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: reading: %w", path, i+2, err)
			}
			v, err := reading.ParseValue(row[col[c]])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", path, i+2, c, err)
			}
			m := row[col["mote_id"]]
			if motes[m] == nil {
				motes[m] = &stream{name: "mote-" + m + "." + c}
			}
			motes[m].timestamps = append(motes[m].timestamps, base+idx*int64(5*time.Second))
			motes[m].values = append(motes[m].values, v)
		}
		s := series{dataset: "TelosB multihop (4 motes)", column: c}
		for _, st := range motes {
			s.streams = append(s.streams, *st)
		}
		sort.Slice(s.streams, func(i, j int) bool { return s.streams[i].name < s.streams[j].name })
		out = append(out, s)
	}
	return out, nil
}
