package anomaly

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
)

// FuzzReadTelosB checks that the parser never panics, that every error
// wraps ErrFormat and that what it accepts holds its promises.
func FuzzReadTelosB(f *testing.F) {
	const head = "reading,mote_id,indoor,humidity,temperature,label\n"
	for _, s := range []string{
		head + "1,1,0,43.82,30.21,0\n2,1,0,43.79,30.2,1\n1,3,1,47,27.5,0\n",
		head + "1,1,0,4e400,30,0\n",
		head + "1,1,0,\"43\",30,0\n",
		head + "2,1,0,43,30,0\n1,1,0,43,30,0\n",
		head,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := ReadTelosB(context.Background(), bytes.NewReader(in), "f.csv")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		total := 0
		for _, n := range ByNode(rs) {
			total += len(n.Readings)
			for i, r := range n.Readings {
				if math.IsInf(r.Humidity, 0) || math.IsNaN(r.Humidity) || math.IsInf(r.Temperature, 0) || math.IsNaN(r.Temperature) {
					t.Fatalf("line %d: value not finite", r.Line)
				}
				if i > 0 && r.Seq <= n.Readings[i-1].Seq {
					t.Fatalf("mote %s: reading %d after %d", n.ID, r.Seq, n.Readings[i-1].Seq)
				}
			}
		}
		if total != len(rs) || len(rs) == 0 {
			t.Fatalf("%d readings, %d by node", len(rs), total)
		}
	})
}

// FuzzWindower checks that any finite readings give finite features within
// the clip, and that a reading that is not finite is refused.
func FuzzWindower(f *testing.F) {
	f.Add(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
	f.Add(math.MaxFloat64, -math.MaxFloat64, 0.0, math.MaxFloat64, 1e-300, -1e300)
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g float64) {
		cfg := WindowConfig{Size: 2, Warmup: 2, MinStd: 0.05, Clip: 10}
		w, err := NewWindower(cfg, 2)
		if err != nil {
			t.Fatal(err)
		}
		vals := []float64{a, b, c, d, e, g, b, a, d, c}
		for i := 0; i+1 < len(vals); i += 2 {
			win, ok, err := w.Push(vals[i : i+2])
			finite := !math.IsNaN(vals[i]) && !math.IsInf(vals[i], 0) && !math.IsNaN(vals[i+1]) && !math.IsInf(vals[i+1], 0)
			if (err == nil) != finite {
				t.Fatalf("reading %v: err %v", vals[i:i+2], err)
			}
			if !ok {
				continue
			}
			for k, v := range win.AppendFeatures(nil, cfg) {
				if math.IsNaN(float64(v)) || v > 10 || v < -10 {
					t.Fatalf("feature %d = %v from %v", k, v, win.Values)
				}
			}
		}
	})
}
