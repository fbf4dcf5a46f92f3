package reading

import (
	"errors"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nextReader is what CSVReader and JSONLReader have in common.
type nextReader interface {
	Next(dst []Reading) ([]Reading, error)
}

// readAll drains r, collecting readings and the lines of LineErrors.
func readAll(t *testing.T, r nextReader) (rs []Reading, badLines []int, err error) {
	t.Helper()
	for range 1_000_000 {
		rs, err = r.Next(rs)
		var le *LineError
		switch {
		case errors.As(err, &le):
			badLines = append(badLines, le.Line)
		case err == io.EOF:
			return rs, badLines, nil
		case err != nil:
			return rs, badLines, err
		}
	}
	t.Fatal("reader does not end")
	return
}

func TestCSVReader(t *testing.T) {
	start := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		input    string
		opts     CSVOptions
		want     []Reading
		badLines []int
		wantErr  string
	}{
		{name: "timestamp,value",
			input: "timestamp,value\n2013-07-04 00:00:00,69.88083514\n2013-07-04 01:00:00,71.22\n",
			opts:  CSVOptions{Stream: "ambient", Node: "n"},
			want: []Reading{
				{Node: "n", Stream: "ambient", Time: time.Date(2013, 7, 4, 0, 0, 0, 0, time.UTC), Value: 69.88083514},
				{Node: "n", Stream: "ambient", Time: time.Date(2013, 7, 4, 1, 0, 0, 0, time.UTC), Value: 71.22},
			}},
		{name: "value stream defaults to value",
			input: "timestamp,value\n1767366245,1\n",
			want:  []Reading{{Stream: "value", Time: t0, Value: 1}}},
		{name: "multi-column with prefix",
			input: "ts,humidity,temperature\n1767366245,43.8,30.2\n",
			opts:  CSVOptions{Stream: "env"},
			want: []Reading{
				{Stream: "env.humidity", Time: t0, Value: 43.8},
				{Stream: "env.temperature", Time: t0, Value: 30.2},
			}},
		{name: "multi-column, empty cell skipped, CRLF, BOM",
			input: "\ufefftimestamp,humidity,temperature\r\n1767366245,,30.2\r\n",
			want:  []Reading{{Stream: "temperature", Time: t0, Value: 30.2}}},
		{name: "node and stream columns",
			input: "node,stream,time,value\nm1,temp,1767366245,1\nm2,hum,1767366245,2\n",
			want: []Reading{
				{Node: "m1", Stream: "temp", Time: t0, Value: 1},
				{Node: "m2", Stream: "hum", Time: t0, Value: 2},
			}},
		{name: "telosb layout: seq column, node column, labels",
			input: "reading,mote_id,indoor,humidity,temperature,label\n1,1,0,43.82,30.21,0\n2,1,0,43.79,30.2,1\n",
			opts: CSVOptions{SeqColumn: "reading", NodeColumn: "mote_id", Start: start, Interval: 5 * time.Second,
				ValueColumns: []string{"humidity", "temperature"}, LabelColumns: []string{"label"}},
			want: []Reading{
				{Node: "1", Stream: "humidity", Time: start.Add(5 * time.Second), Value: 43.82, Labels: map[string]string{"label": "0"}},
				{Node: "1", Stream: "temperature", Time: start.Add(5 * time.Second), Value: 30.21, Labels: map[string]string{"label": "0"}},
				{Node: "1", Stream: "humidity", Time: start.Add(10 * time.Second), Value: 43.79, Labels: map[string]string{"label": "1"}},
				{Node: "1", Stream: "temperature", Time: start.Add(10 * time.Second), Value: 30.2, Labels: map[string]string{"label": "1"}},
			}},
		{name: "no time column, row interval",
			input: "value\n1\n2\n",
			opts:  CSVOptions{Start: start, Interval: time.Minute},
			want: []Reading{
				{Stream: "value", Time: start, Value: 1},
				{Stream: "value", Time: start.Add(time.Minute), Value: 2},
			}},
		{name: "bad lines are reported and skipped",
			input: "timestamp,value\n1767366245,1\nnot-a-time,2\n1767366245,abc\n1767366245\n1767366245,\"x\"y\n1767366245,5\n",
			want: []Reading{
				{Stream: "value", Time: t0, Value: 1},
				{Stream: "value", Time: t0, Value: 5},
			},
			badLines: []int{3, 4, 5, 6}},
		{name: "no header", input: "", wantErr: "header line missing"},
		{name: "no time column", input: "a,b\n1,2\n", wantErr: "no timestamp column"},
		{name: "missing configured column", input: "timestamp,value\n", opts: CSVOptions{ValueColumns: []string{"temp"}}, wantErr: `no value column "temp"`},
		{name: "only a time column", input: "timestamp\n1\n", wantErr: "no value column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := readAll(t, NewCSVReader(strings.NewReader(tt.input), tt.opts))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(bad, tt.badLines) {
				t.Errorf("bad lines %v, want %v", bad, tt.badLines)
			}
		})
	}
}

func TestJSONLReader(t *testing.T) {
	input := "{\"stream\":\"a\",\"ts\":1767366245,\"value\":1}\n\n{bad\n{\"ts\":1767366245,\"value\":2}\n" +
		"{\"stream\":\"x\",\"ts\":1767366245,\"value\":" + strings.Repeat("1", 200) + "}\n" +
		"{\"stream\":\"env\",\"ts\":1767366245,\"values\":{\"a\":3,\"b\":4}}"
	r := NewJSONLReader(strings.NewReader(input), JSONOptions{Stream: "file", Node: "n"})
	r.SetMaxLineBytes(100)
	got, bad, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []Reading{
		{Node: "n", Stream: "a", Time: t0, Value: 1},
		{Node: "n", Stream: "file", Time: t0, Value: 2},
		{Node: "n", Stream: "env.a", Time: t0, Value: 3},
		{Node: "n", Stream: "env.b", Time: t0, Value: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(bad, []int{3, 5}) {
		t.Errorf("bad lines %v, want [3 5]", bad)
	}
}

func TestCSVReaderSharedData(t *testing.T) {
	dir := testenv.SharedFile(t, "")
	tests := []struct {
		file  string
		opts  CSVOptions
		count int
	}{
		{"data/nab/ambient_temperature_system_failure.csv", CSVOptions{Stream: "ambient"}, 7267},
		{"data/telosb/multihop.csv", CSVOptions{SeqColumn: "reading", NodeColumn: "mote_id", Interval: 5 * time.Second,
			ValueColumns: []string{"humidity", "temperature"}, LabelColumns: []string{"label"}}, 2 * 18760},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, bad, err := readAll(t, NewCSVReader(f, tt.opts))
			if err != nil || len(bad) > 0 {
				t.Fatalf("err %v, bad lines %v", err, bad)
			}
			if len(got) != tt.count {
				t.Fatalf("%d readings, want %d", len(got), tt.count)
			}
		})
	}
}

func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("timestamp,value\n2013-07-04 00:00:00,69.88083514\n1767366245,NaN\n"), false)
	f.Add([]byte("reading,mote_id,humidity,temperature\n1,1,43.82,30.21\n2,1,,x\n"), true)
	f.Add([]byte("node,stream,ts,value\nn,s,1,1\n\"a\"b,c\n"), false)
	f.Fuzz(func(t *testing.T, input []byte, telosb bool) {
		opts := CSVOptions{}
		if telosb {
			opts = CSVOptions{SeqColumn: "reading", NodeColumn: "mote_id", Interval: time.Second}
		}
		r := NewCSVReader(strings.NewReader(string(input)), opts)
		var rs []Reading
		for range len(input) + 2 {
			var err error
			rs, err = r.Next(rs[:0])
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				return // EOF or a final error
			}
		}
		t.Fatalf("reader did not end within %d calls", len(input)+2)
	})
}

func FuzzJSONLReader(f *testing.F) {
	f.Add([]byte("{\"stream\":\"a\",\"ts\":1,\"value\":1}\n\n{bad\n{\"ts\":1,\"values\":{\"x\":1}}"), 16)
	f.Add([]byte("\r\n\r\n{}"), 1)
	f.Fuzz(func(t *testing.T, input []byte, maxLine int) {
		r := NewJSONLReader(strings.NewReader(string(input)), JSONOptions{Stream: "s"})
		r.SetMaxLineBytes(max(1, maxLine%4096))
		var rs []Reading
		for range len(input) + 2 {
			var err error
			rs, err = r.Next(rs[:0])
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				return
			}
		}
		t.Fatalf("reader did not end within %d calls", len(input)+2)
	})
}
