package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecimalsOf(t *testing.T) {
	tests := []struct {
		v    float64
		want int
	}{
		{0, 0}, {30, 0}, {43.82, 2}, {69.88083514, 8}, {36.806999999999995, 15}, {1e-3, 3}, {1.5e10, 0}, {-2.25, 2},
	}
	for _, tt := range tests {
		if got := decimalsOf(tt.v); got != tt.want {
			t.Errorf("decimalsOf(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

func TestDeltaEntropy(t *testing.T) {
	// Deltas +0.01 and -0.01 alternate: one bit per delta at scale 10^2.
	s := series{streams: []stream{{values: []float64{1.00, 1.01, 1.00, 1.01, 1.00}}}}
	bits, decimals, covered := deltaEntropy(s)
	if decimals != 2 || covered != 1 || math.Abs(bits-1) > 1e-12 {
		t.Errorf("deltaEntropy = %v bits, 10^%d, %v covered; want 1 bit, 10^2, 1", bits, decimals, covered)
	}
	if bits, _, _ := deltaEntropy(series{streams: []stream{{values: []float64{1, math.NaN()}}}}); !math.IsNaN(bits) {
		t.Errorf("with NaN: %v bits, want NaN", bits)
	}
}

func TestRewriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := rewriteSection(path, "first\n"); err != nil {
		t.Fatal(err)
	}
	doc := "intro\n" + beginMarker + "\nold\n" + endMarker + "\noutro\n"
	os.WriteFile(path, []byte(doc), 0o644)
	if err := rewriteSection(path, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "intro\n" + beginMarker + "\nnew table\n" + endMarker + "\noutro\n"
	if string(got) != want {
		t.Errorf("rewritten:\n%s\nwant:\n%s", got, want)
	}
	os.WriteFile(path, []byte("no markers\n"), 0o644)
	if err := rewriteSection(path, "x"); err == nil || !strings.Contains(err.Error(), "markers") {
		t.Errorf("without markers: err = %v", err)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
}

// TestCodecsRoundTrip checks every compared method on a small block with
// the values that trip up float codecs.
func TestCodecsRoundTrip(t *testing.T) {
	b := block{stream: "s", seq: 1, timestamps: []int64{1e9, 2e9, 3e9, 4e9, 5e9, 6e9}, values: []float64{21.5, math.Copysign(0, -1), math.Inf(1), 1e-300, 5e-324, 43.82}}
	for _, c := range []codec{zlibCodec, zstdCodec, gorillaCodec} {
		m, err := measure(c, []block{b}, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !m.exact {
			t.Errorf("%s: not bit-exact (max error %v)", c.name, m.maxErr)
		}
	}
}
