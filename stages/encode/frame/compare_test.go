package frame

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"math"
	"math/bits"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// articleMethod is the reference article's method on a whole series: float32
// values, numpy.diff, zlib level 6. It returns the compressed size of the values
// and the largest absolute error of its float32 cumulative-sum decoding.
func articleMethod(t testing.TB, vals []float64) (size int, maxErr float64) {
	raw := make([]byte, 0, 4*len(vals))
	var prev float32
	for i, v := range vals {
		f := float32(v)
		d := f
		if i > 0 {
			d = f - prev
		}
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(d))
		prev = f
	}
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, 6)
	w.Write(raw)
	w.Close()
	var acc float32
	for i, v := range vals {
		d := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		if i == 0 {
			acc = d
		} else {
			acc += d
		}
		maxErr = max(maxErr, math.Abs(float64(acc)-v))
	}
	return buf.Len(), maxErr
}

// gorillaBits is the size in bits of the values under Gorilla's XOR coding.
func gorillaBits(vals []float64) int {
	n := 64
	prev := math.Float64bits(vals[0])
	lead, trail := -1, 0
	for _, v := range vals[1:] {
		u := math.Float64bits(v)
		x := u ^ prev
		prev = u
		if x == 0 {
			n++
			continue
		}
		l, tr := min(bits.LeadingZeros64(x), 31), bits.TrailingZeros64(x)
		if lead >= 0 && l >= lead && tr >= trail {
			n += 2 + 64 - lead - trail
			continue
		}
		lead, trail = l, tr
		n += 2 + 5 + 6 + 64 - l - tr
	}
	return n
}

func zstdSize(t testing.TB, vals []float64) int {
	raw := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	return len(enc.EncodeAll(raw, nil))
}

// bestBits returns the smallest frame size in bits per value over the back ends
// for ds cut into blocks of size values (headers and timestamps included).
func bestBits(t *testing.T, ds dataset, size int, maxErr float64) float64 {
	best := math.Inf(1)
	for _, codec := range allCodecs {
		n := roundTrip(t, Options{Codec: codec, MaxError: maxErr}, ds.blocks(size))
		best = min(best, float64(8*n)/float64(len(ds.vals)))
	}
	return best
}

// articleBits is the article method's size in bits per value with the series
// cut into blocks of size values (values only, as the article stores them).
func articleBits(t *testing.T, ds dataset, size int) (bitsPerValue, maxErr float64) {
	total := 0
	for i := 0; i < len(ds.vals); i += size {
		n, e := articleMethod(t, ds.vals[i:min(i+size, len(ds.vals))])
		total += n
		maxErr = max(maxErr, e)
	}
	return float64(8*total) / float64(len(ds.vals)), maxErr
}

// TestCompressionTargets compares edgeflow's frames (headers and timestamps
// included) with the article's method (values only), Gorilla and zstd (values
// only, whole series), losslessly and at the article's own maximum error.
func TestCompressionTargets(t *testing.T) {
	sets := append(loadTelosB(t), loadNAB(t)...)
	t.Logf("bits/value; 'series' = one block per series, '1000' = blocks of 1000 values")
	t.Logf("%-46s %7s %7s %7s %7s | %7s %7s %6s | %7s %7s %6s | %8s %8s", "", "gorilla", "zstd",
		"article", "edgefl.", "art1000", "ef1000", "ratio", "art.err", "bounded", "ratio", "art/ef1k", "art/bd1k")
	for _, ds := range sets {
		n := len(ds.vals)
		art, artErr := articleBits(t, ds, n)
		art1000, _ := articleBits(t, ds, 1000)
		gor := float64(gorillaBits(ds.vals)) / float64(n)
		zst := float64(8*zstdSize(t, ds.vals)) / float64(n)
		ef := bestBits(t, ds, n, 0)
		ef1000 := bestBits(t, ds, 1000, 0)
		bounded := bestBits(t, ds, n, artErr)
		bounded1000 := bestBits(t, ds, 1000, artErr)
		t.Logf("%-46s %7.2f %7.2f %7.2f %7.2f | %7.2f %7.2f %5.2fx | %7.1e %7.2f %5.2fx | %7.2fx %7.2fx", ds.name, gor, zst,
			art, ef, art1000, ef1000, art1000/ef1000, artErr, bounded, art/bounded, art/ef1000, art/bounded1000)
		if ef1000 > gor || ef1000 > zst {
			t.Errorf("%s: lossless %.2f bits/value, not below Gorilla %.2f and zstd %.2f", ds.name, ef1000, gor, zst)
		}
		if strings.HasPrefix(ds.name, "telosb") {
			if art/ef < 1.8 || art1000/ef1000 < 1.8 {
				t.Errorf("%s: lossless %.2f (series) and %.2f (1000) bits/value, not 1.8x below the article's %.2f and %.2f", ds.name, ef, ef1000, art, art1000)
			}
		}
		if bounded > art {
			t.Errorf("%s: at the article's max error %.2g, %.2f bits/value, more than the article's %.2f", ds.name, artErr, bounded, art)
		}
	}
}
