package frame

import (
	"encoding/csv"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/stages/reading"
)

// dataset is one stream of real readings.
type dataset struct {
	name string
	ts   []int64
	vals []float64
}

var telosbStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// loadTelosB returns the temperature and humidity stream of every mote
// (readings every 5 s).
func loadTelosB(t testing.TB) []dataset {
	path := filepath.Join(testenv.SharedFile(t, "data"), "telosb", "multihop.csv")
	rows := readCSV(t, path)
	byKey := map[string]*dataset{}
	var keys []string
	for i, row := range rows[1:] {
		if len(row) < 5 {
			t.Fatalf("%s:%d: %d columns", path, i+2, len(row))
		}
		idx, err := strconv.ParseInt(row[0], 10, 64)
		if err != nil {
			t.Fatalf("%s:%d: reading: %v", path, i+2, err)
		}
		for _, col := range []struct {
			name string
			i    int
		}{{"humidity", 3}, {"temperature", 4}} {
			v, err := strconv.ParseFloat(row[col.i], 64)
			if err != nil {
				t.Fatalf("%s:%d: %s: %v", path, i+2, col.name, err)
			}
			key := "telosb/mote" + row[1] + "/" + col.name
			ds := byKey[key]
			if ds == nil {
				ds = &dataset{name: key}
				byKey[key] = ds
				keys = append(keys, key)
			}
			ds.ts = append(ds.ts, telosbStart+idx*5e9)
			ds.vals = append(ds.vals, v)
		}
	}
	sort.Strings(keys)
	out := make([]dataset, len(keys))
	for i, k := range keys {
		out[i] = *byKey[k]
	}
	return out
}

// loadNAB returns every NAB series (timestamp,value).
func loadNAB(t testing.TB) []dataset {
	files, _ := filepath.Glob(filepath.Join(testenv.SharedFile(t, "data"), "nab", "*.csv"))
	sort.Strings(files)
	var out []dataset
	for _, path := range files {
		rows := readCSV(t, path)
		ds := dataset{name: "nab/" + filepath.Base(path)}
		for i, row := range rows[1:] {
			tm, err := reading.ParseTime(row[0])
			if err != nil {
				t.Fatalf("%s:%d: timestamp: %v", path, i+2, err)
			}
			v, err := strconv.ParseFloat(row[1], 64)
			if err != nil {
				t.Fatalf("%s:%d: value: %v", path, i+2, err)
			}
			ds.ts = append(ds.ts, tm.UnixNano())
			ds.vals = append(ds.vals, v)
		}
		out = append(out, ds)
	}
	if len(out) == 0 {
		t.Skip("no NAB files")
	}
	return out
}

func readCSV(t testing.TB, path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// blocks splits ds into Blocks of size values.
func (ds dataset) blocks(size int) []Block {
	var out []Block
	for i := 0; i < len(ds.vals); i += size {
		j := min(i+size, len(ds.vals))
		out = append(out, Block{Node: "node-1", Stream: ds.name, Seq: uint64(len(out)),
			Timestamps: ds.ts[i:j], Values: ds.vals[i:j]})
	}
	return out
}
