package encode

import (
	"context"
	"testing"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// TestWatermark: the watermark is the lowest input number among the first
// readings of the open blocks, and passes an input once every block it added
// to was emitted.
func TestWatermark(t *testing.T) {
	e, _ := newTestEncoder(t, func(c *Config) { c.BlockSize = 3 })
	steps := []struct {
		name    string
		input   uint64
		stream  string
		values  []float64
		frames  int
		wantWM  uint64
		flushed bool // flush everything after the input
	}{
		{name: "empty encoder holds nothing", wantWM: stages.NoWatermark},
		{name: "input 1 opens a block of a", input: 1, stream: "a", values: []float64{1}, wantWM: 1},
		{name: "input 2 opens a block of b", input: 2, stream: "b", values: []float64{1, 2}, wantWM: 1},
		{name: "input 3 fills a: b still holds input 2", input: 3, stream: "a", values: []float64{2, 3}, frames: 1, wantWM: 2},
		{name: "input 4 fills b and opens nothing", input: 4, stream: "b", values: []float64{3}, frames: 1, wantWM: stages.NoWatermark},
		{name: "input 5 overflows a into a new block", input: 5, stream: "a", values: []float64{1, 2, 3, 4}, frames: 1, wantWM: 5},
		{name: "a flush empties every block", flushed: true, wantWM: stages.NoWatermark},
	}
	for _, st := range steps {
		if len(st.values) > 0 {
			ctx := stages.WithInputSeq(context.Background(), st.input)
			out, err := e.Process(ctx, reading.NewMessage(readings("n", st.stream, st.values...)))
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if len(out) != st.frames {
				t.Errorf("%s: %d frames, want %d", st.name, len(out), st.frames)
			}
		}
		if st.flushed {
			if _, err := e.Flush(context.Background(), stages.FlushAll); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.Watermark(); got != st.wantWM {
			t.Errorf("%s: watermark %d, want %d", st.name, got, st.wantWM)
		}
	}
}
