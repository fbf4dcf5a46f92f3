package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteSection(t *testing.T) {
	tests := []struct {
		name    string
		before  string
		want    string
		wantErr bool
	}{
		{name: "appended when missing", before: "# Benchmarks\n\n## Other\n\ntext\n",
			want: "# Benchmarks\n\n## Other\n\ntext\n\n" + heading + "\n\n" + beginMarker + "\nNEW\n" + endMarker + "\n"},
		{name: "replaced between the markers", before: "a\n" + beginMarker + "\nOLD\n" + endMarker + "\nb\n",
			want: "a\n" + beginMarker + "\nNEW\n" + endMarker + "\nb\n"},
		{name: "markers out of order", before: endMarker + "\n" + beginMarker + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.md")
			if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
				t.Fatal(err)
			}
			err := rewriteSection(path, "NEW\n")
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			got, _ := os.ReadFile(path)
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestMeanSD(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		v        []float64
		mean, sd float64
		n        int
		shown    string
	}{
		{name: "two", v: []float64{1, 3}, mean: 2, sd: math.Sqrt2, n: 2, shown: "2.00 ± 1.41"},
		{name: "NaN skipped", v: []float64{1, nan, 3}, mean: 2, sd: math.Sqrt2, n: 2, shown: "2.00 ± 1.41 (2 of 3 seeds)"},
		{name: "one", v: []float64{0.5}, mean: 0.5, n: 1, shown: "0.50"},
		{name: "none", v: []float64{nan}, mean: nan, sd: nan, shown: "—"},
	}
	same := func(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-12 }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, s, n := meanSD(tt.v)
			if !same(m, tt.mean) || !same(s, tt.sd) || n != tt.n || !strings.EqualFold(pm(tt.v), tt.shown) {
				t.Fatalf("meanSD = %v, %v, %d (%q); want %v, %v, %d (%q)", m, s, n, pm(tt.v), tt.mean, tt.sd, tt.n, tt.shown)
			}
		})
	}
}
