package frame

import (
	"fmt"
	"math"
	"testing"
)

var allCodecs = []Codec{CodecNone, CodecZlib, CodecLZ4, CodecZstd}

// tester is what roundTrip needs of *testing.T, *testing.B and *rapid.T.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// roundTrip encodes blocks with opts, decodes every frame and checks the
// result, returning the total frame bytes.
func roundTrip(t tester, opts Options, blocks []Block) int {
	t.Helper()
	enc, err := NewEncoder(opts)
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder()
	var buf []byte
	for _, b := range blocks {
		if buf, err = enc.Encode(buf, &b); err != nil {
			t.Fatalf("encode %s seq %d: %v", b.Stream, b.Seq, err)
		}
	}
	total := len(buf)
	var got Block
	for i := 0; len(buf) > 0; i++ {
		n, err := FrameLen(buf)
		if err != nil {
			t.Fatalf("frame %d: FrameLen: %v", i, err)
		}
		h, err := dec.Decode(buf[:n], &got)
		if err != nil {
			t.Fatalf("frame %d: decode: %v", i, err)
		}
		want := blocks[i]
		checkBlock(t, opts, h, &want, &got)
		buf = buf[n:]
	}
	return total
}

func checkBlock(t tester, opts Options, h Header, want, got *Block) {
	t.Helper()
	lossy := opts.MaxError > 0 || opts.Codec == CodecF32DiffZlib
	if h.Node != want.Node || h.Stream != want.Stream || h.Seq != want.Seq || h.Count != len(want.Values) || h.Codec != opts.Codec || h.Lossy != lossy {
		t.Fatalf("header %+v does not match block %s/%s seq %d (%d values)", h, want.Node, want.Stream, want.Seq, len(want.Values))
	}
	if got.Node != want.Node || got.Stream != want.Stream || got.Seq != want.Seq {
		t.Fatalf("block names %s/%s seq %d, want %s/%s seq %d", got.Node, got.Stream, got.Seq, want.Node, want.Stream, want.Seq)
	}
	if len(got.Values) != len(want.Values) || len(got.Timestamps) != len(want.Timestamps) {
		t.Fatalf("%d values/%d timestamps, want %d", len(got.Values), len(got.Timestamps), len(want.Values))
	}
	for i := range want.Values {
		if got.Timestamps[i] != want.Timestamps[i] {
			t.Fatalf("%s seq %d: timestamp %d = %d, want %d", want.Stream, want.Seq, i, got.Timestamps[i], want.Timestamps[i])
		}
		g, w := got.Values[i], want.Values[i]
		switch {
		case opts.Codec == CodecF32DiffZlib:
		case opts.MaxError > 0:
			bound := opts.MaxError
			if opts.RelativeError {
				bound *= math.Abs(w)
			}
			if math.Float64bits(g) != math.Float64bits(w) && !(math.Abs(g-w) <= bound) {
				t.Fatalf("%s seq %d: value %d = %v, want %v within %v", want.Stream, want.Seq, i, g, w, bound)
			}
		default:
			if math.Float64bits(g) != math.Float64bits(w) {
				t.Fatalf("%s seq %d: value %d = %v (%#x), want %v (%#x)", want.Stream, want.Seq, i, g, math.Float64bits(g), w, math.Float64bits(w))
			}
		}
	}
}

func TestRoundTripRealData(t *testing.T) {
	sets := append(loadTelosB(t), loadNAB(t)...)
	for _, size := range []int{100, 1000, 4096} {
		for _, codec := range allCodecs {
			t.Run(fmt.Sprintf("%s/%d", codec, size), func(t *testing.T) {
				for _, ds := range sets {
					n := roundTrip(t, Options{Codec: codec}, ds.blocks(size))
					if size == 1000 {
						t.Logf("%-50s %6.2f bits/value", ds.name, float64(n*8)/float64(len(ds.vals)))
					}
				}
			})
		}
	}
}
