package encode

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(c *Config)
		wantField string
		wantMsg   string
	}{
		{name: "defaults", edit: func(c *Config) {}},
		{name: "every codec", edit: func(c *Config) { c.Codec = "lz4"; c.Level = 9 }},
		{name: "unknown codec", edit: func(c *Config) { c.Codec = "zip" }, wantField: "codec",
			wantMsg: `codec "zip" unknown (want zlib|lz4|zstd|none|f32-diff-zlib)`},
		{name: "zstd level too high", edit: func(c *Config) { c.Level = 23 }, wantField: "level"},
		{name: "level for none", edit: func(c *Config) { c.Codec = "none"; c.Level = 3 }, wantField: "level"},
		{name: "negative max_error", edit: func(c *Config) { c.MaxError = -1 }, wantField: "max_error"},
		{name: "NaN max_error", edit: func(c *Config) { c.MaxError = math.NaN() }, wantField: "max_error"},
		{name: "max_error with f32-diff-zlib", edit: func(c *Config) { c.Codec = "f32-diff-zlib"; c.MaxError = 0.1 }, wantField: "max_error"},
		{name: "relative without max_error", edit: func(c *Config) { c.Relative = true }, wantField: "relative"},
		{name: "relative of 1", edit: func(c *Config) { c.Relative = true; c.MaxError = 1 }, wantField: "max_error"},
		{name: "relative ok", edit: func(c *Config) { c.Relative = true; c.MaxError = 1e-3 }},
		{name: "block_size 0", edit: func(c *Config) { c.BlockSize = 0 }, wantField: "block_size"},
		{name: "block_size too big", edit: func(c *Config) { c.BlockSize = MaxBlockSize + 1 }, wantField: "block_size"},
		{name: "max_age 0", edit: func(c *Config) { c.MaxAge = 0 }, wantField: "max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error on %s", tt.wantField)
			}
			if got := stages.FieldOf(err); got != tt.wantField {
				t.Errorf("field = %q, want %q (err %v)", got, tt.wantField, err)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	for _, id := range []string{"encode", "decode"} {
		r, ok := stages.Lookup(stages.KindProcessor, id)
		if !ok {
			t.Fatalf("processor %q not registered", id)
		}
		cfg := r.NewConfig()
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s defaults: %v", id, err)
		}
		p, err := r.Build(context.Background(), cfg, stages.Env{})
		if err != nil {
			t.Fatalf("build %s: %v", id, err)
		}
		if _, ok := p.(stages.Processor); !ok {
			t.Errorf("%s: %T is not a Processor", id, p)
		}
	}
}

// fakeClock is a settable clock for max_age tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestEncoder(t *testing.T, edit func(*Config)) (*Encoder, *fakeClock) {
	t.Helper()
	cfg := DefaultConfig()
	if edit != nil {
		edit(cfg)
	}
	e, err := NewEncoder(cfg, stages.Env{Node: stages.Node{ID: "node-env"}, Pipeline: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e.now = clock.now
	return e, clock
}

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func readings(node, stream string, values ...float64) []reading.Reading {
	rs := make([]reading.Reading, len(values))
	for i, v := range values {
		rs[i] = reading.Reading{Node: node, Stream: stream, Time: t0.Add(time.Duration(i) * 1500 * time.Millisecond), Value: v}
	}
	return rs
}

func process(t *testing.T, p stages.Processor, msg *message.Message) []*message.Message {
	t.Helper()
	out, err := p.Process(context.Background(), msg)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return out
}

func decodeAll(t *testing.T, frames []*message.Message) []reading.Reading {
	t.Helper()
	d, err := NewDecoder(DefaultDecodeConfig(), stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var rs []reading.Reading
	for _, f := range frames {
		for _, m := range process(t, d, f) {
			if k := m.Metadata.Get(stages.MetaKind); k != stages.KindReadings {
				t.Fatalf("decoded kind %q", k)
			}
			got, err := reading.DecodePayload(m.Payload, nil)
			if err != nil {
				t.Fatalf("decoded payload: %v", err)
			}
			rs = append(rs, got...)
		}
	}
	return rs
}

func sameReadings(t *testing.T, got, want []reading.Reading) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Node != w.Node || g.Stream != w.Stream || !g.Time.Equal(w.Time) || math.Float64bits(g.Value) != math.Float64bits(w.Value) {
			t.Errorf("reading %d = %+v (bits %x), want %+v (bits %x)", i, g, math.Float64bits(g.Value), w, math.Float64bits(w.Value))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	special := []float64{21.5, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e-300, 5e-324, -17.25, 0, math.MaxFloat64}
	for _, codec := range []string{"none", "zlib", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			e, _ := newTestEncoder(t, func(c *Config) { c.Codec = codec; c.BlockSize = 4 })
			a := readings("n1", "temp", special...)
			b := readings("", "hum", 40, 41, 42) // node from metadata
			msg := reading.NewMessage(append(append([]reading.Reading{}, a...), b...))
			msg.Metadata.Set(stages.MetaNode, "n2")
			frames := process(t, e, msg)
			more, err := e.Flush(context.Background(), stages.FlushAll)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, more...)
			if len(frames) != 4 { // temp: 4+4+2, hum: 3
				t.Fatalf("got %d frames, want 4", len(frames))
			}
			for i := range b {
				b[i].Node = "n2"
			}
			got := decodeAll(t, frames)
			sameReadings(t, got, append(a, b...))
		})
	}
}

func TestFrameMetadataAndSequence(t *testing.T) {
	e, _ := newTestEncoder(t, func(c *Config) { c.BlockSize = 2 })
	var frames []*message.Message
	for range 3 {
		frames = append(frames, process(t, e, reading.NewMessage(append(readings("n", "a", 1, 2), readings("n", "b", 3, 4)...)))...)
	}
	if len(frames) != 6 {
		t.Fatalf("got %d frames, want 6", len(frames))
	}
	next := map[string]uint64{"a": 1, "b": 1}
	for _, f := range frames {
		md := f.Metadata
		if md.Get(stages.MetaKind) != stages.KindFrame || md.Get(stages.MetaNode) != "n" || md.Get(stages.MetaPipeline) != "p1" {
			t.Errorf("metadata %v", md)
		}
		s := md.Get(stages.MetaStream)
		seq, err := strconv.ParseUint(md.Get(stages.MetaSeq), 10, 64)
		if err != nil || seq != next[s] {
			t.Errorf("stream %s: seq %q, want %d", s, md.Get(stages.MetaSeq), next[s])
		}
		next[s]++
		h, err := frame.ReadHeader(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if h.Stream != s || h.Seq != seq || h.Node != "n" || h.Count != 2 {
			t.Errorf("header %+v, want stream %s seq %d", h, s, seq)
		}
		if f.UUID == "" {
			t.Error("frame without UUID")
		}
	}
}

func TestFlush(t *testing.T) {
	e, _ := newTestEncoder(t, nil)
	process(t, e, reading.NewMessage(append(readings("n", "b", 1, 2, 3), readings("n", "a", 4)...)))
	if got := e.Buffered(); got != 4 {
		t.Fatalf("Buffered = %d, want 4", got)
	}
	frames, err := e.Flush(context.Background(), stages.FlushAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 || frames[0].Metadata.Get(stages.MetaStream) != "a" || frames[1].Metadata.Get(stages.MetaStream) != "b" {
		t.Fatalf("Flush gave %d frames, want a then b", len(frames))
	}
	if got := e.Buffered(); got != 0 {
		t.Errorf("Buffered after Flush = %d", got)
	}
	again, err := e.Flush(context.Background(), stages.FlushAll)
	if err != nil || len(again) != 0 {
		t.Errorf("second Flush = %d frames, %v; want none", len(again), err)
	}
	// A stream silent for a whole flush period gives its columns back.
	if _, err := e.Flush(context.Background(), stages.FlushAll); err != nil {
		t.Fatal(err)
	}
	if b := e.buffers[streamKey{"n", "a"}]; b.timestamps != nil || b.lastSeq != 1 {
		t.Errorf("idle buffer keeps %d bytes of columns, seq %d", 16*cap(b.timestamps), b.lastSeq)
	}
	// Sequence numbers go on after a flush.
	process(t, e, reading.NewMessage(readings("n", "a", 5)))
	frames, _ = e.Flush(context.Background(), stages.FlushAll)
	if len(frames) != 1 || frames[0].Metadata.Get(stages.MetaSeq) != "2" {
		t.Errorf("after flush: %d frames, seq %q; want 1 frame with seq 2", len(frames), frames[0].Metadata.Get(stages.MetaSeq))
	}
}

func TestMaxAge(t *testing.T) {
	e, clock := newTestEncoder(t, func(c *Config) { c.MaxAge = 5 * time.Second })
	if out := process(t, e, reading.NewMessage(readings("n", "a", 1))); len(out) != 0 {
		t.Fatalf("got %d frames before max_age", len(out))
	}
	clock.t = clock.t.Add(3 * time.Second)
	if out := process(t, e, reading.NewMessage(readings("n", "b", 2))); len(out) != 0 {
		t.Fatalf("got %d frames before max_age", len(out))
	}
	clock.t = clock.t.Add(2 * time.Second) // a is 5s old, b 2s
	out := process(t, e, reading.NewMessage(readings("n", "a", 3)))
	if len(out) != 1 || out[0].Metadata.Get(stages.MetaStream) != "a" {
		t.Fatalf("got %d frames, want stream a's", len(out))
	}
	sameReadings(t, decodeAll(t, out), []reading.Reading{readings("n", "a", 1)[0], readings("n", "a", 3)[0]})
	if got := e.Buffered(); got != 1 {
		t.Errorf("Buffered = %d, want b's 1 reading", got)
	}
	clock.t = clock.t.Add(3 * time.Second)
	out = process(t, e, reading.NewMessage(nil))
	if len(out) != 1 || out[0].Metadata.Get(stages.MetaStream) != "b" {
		t.Fatalf("got %d frames, want stream b's", len(out))
	}
}

func TestBadInputKeepsBuffers(t *testing.T) {
	e, _ := newTestEncoder(t, nil)
	process(t, e, reading.NewMessage(readings("n", "a", 1, 2)))
	bad := []struct {
		name string
		msg  *message.Message
	}{
		{"bad JSON on line 2", func() *message.Message {
			m := message.NewMessage("m1", []byte(`{"stream":"b","ts":"2026-01-02T15:04:05Z","value":1}`+"\n{oops\n"))
			m.Metadata.Set(stages.MetaKind, stages.KindReadings)
			return m
		}()},
		{"timestamp out of range", reading.NewMessage([]reading.Reading{{Stream: "b", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Value: 1}})},
		{"frame kind", func() *message.Message {
			m := message.NewMessage("m2", []byte("x"))
			m.Metadata.Set(stages.MetaKind, stages.KindFrame)
			return m
		}()},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Process(context.Background(), tt.msg); err == nil {
				t.Fatal("Process accepted bad input")
			}
			if got := e.Buffered(); got != 2 {
				t.Errorf("Buffered = %d, want 2", got)
			}
		})
	}
	frames, err := e.Flush(context.Background(), stages.FlushAll)
	if err != nil {
		t.Fatal(err)
	}
	sameReadings(t, decodeAll(t, frames), readings("n", "a", 1, 2))
}

func TestDecodeErrors(t *testing.T) {
	d, err := NewDecoder(DefaultDecodeConfig(), stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := newTestEncoder(t, nil)
	process(t, e, reading.NewMessage(readings("n", "a", 1, 2, 3)))
	frames, _ := e.Flush(context.Background(), stages.FlushAll)
	good := frames[0].Payload

	truncated := message.NewMessage("t", good[:len(good)-1])
	truncated.Metadata.Set(stages.MetaKind, stages.KindFrame)
	if _, err := d.Process(context.Background(), truncated); !errors.Is(err, frame.ErrCorrupt) {
		t.Errorf("truncated frame: err = %v, want ErrCorrupt", err)
	}
	readingsMsg := reading.NewMessage(readings("n", "a", 1))
	if _, err := d.Process(context.Background(), readingsMsg); err == nil {
		t.Error("decode accepted a readings message")
	}
	// Two concatenated frames, split into messages of at most 2 readings.
	d2, _ := NewDecoder(&DecodeConfig{MaxReadings: 2}, stages.Env{})
	both := message.NewMessage("b", append(append([]byte{}, good...), good...))
	both.Metadata.Set(stages.MetaKind, stages.KindFrame)
	out := process(t, d2, both)
	if len(out) != 4 {
		t.Errorf("got %d messages, want 4 (2 frames × [2,1] readings)", len(out))
	}
}

// TestBufferCost checks the hot path: a buffered reading costs at most 24 bytes
// and appending one does not allocate.
func TestBufferCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	const streams, block = 50, 1000
	perReading := bufferedBytesPerReading(t, streams, block)
	t.Logf("%.1f bytes per buffered reading", perReading)
	if perReading > 24 {
		t.Errorf("%.1f bytes per buffered reading, want <= 24", perReading)
	}
	e, _ := newTestEncoder(t, func(c *Config) { c.BlockSize = block })
	now := time.Now()
	e.add("n", "s", 0, 0, now)
	i := int64(0)
	allocs := testing.AllocsPerRun(500, func() {
		i++
		e.add("n", "s", i, float64(i), now)
	})
	if allocs != 0 {
		t.Errorf("add allocates %.1f times per reading, want 0", allocs)
	}
}

func bufferedBytesPerReading(t *testing.T, streams, block int) float64 {
	e, _ := newTestEncoder(t, func(c *Config) { c.BlockSize = block })
	names := make([]string, streams)
	for s := range names {
		names[s] = "stream-" + strconv.Itoa(s)
	}
	now := time.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for s, name := range names {
		for i := range block - 1 {
			e.add("n", name, int64(i), float64(s*i), now)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(streams*(block-1))
}

func BenchmarkAdd(b *testing.B) {
	cfg := DefaultConfig()
	e, err := NewEncoder(cfg, stages.Env{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if full := e.add("n", "s", int64(i), float64(i), now); full != nil {
			full.timestamps, full.values = full.timestamps[:0], full.values[:0]
		}
	}
}

func BenchmarkProcess(b *testing.B) {
	e, err := NewEncoder(DefaultConfig(), stages.Env{})
	if err != nil {
		b.Fatal(err)
	}
	msg := reading.NewMessage(readings("n", "s", make([]float64, 100)...))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Process(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/reading")
}

// The periodic flush (FlushDue) emits only blocks older than max_age, so a busy
// stream's block is not cut short; the final flush (FlushAll) emits everything.
func TestFlushDue(t *testing.T) {
	e, clock := newTestEncoder(t, func(c *Config) { c.MaxAge = 5 * time.Second })
	process(t, e, reading.NewMessage(readings("n", "old", 1, 2)))
	clock.t = clock.t.Add(3 * time.Second)
	process(t, e, reading.NewMessage(readings("n", "new", 3)))
	if frames, err := e.Flush(context.Background(), stages.FlushDue); err != nil || len(frames) != 0 {
		t.Fatalf("FlushDue before max_age = %d frames, %v; want none", len(frames), err)
	}
	clock.t = clock.t.Add(2 * time.Second)
	frames, err := e.Flush(context.Background(), stages.FlushDue)
	if err != nil || len(frames) != 1 || frames[0].Metadata.Get(stages.MetaStream) != "old" {
		t.Fatalf("FlushDue at max_age = %d frames, %v; want the old stream only", len(frames), err)
	}
	if got := e.Buffered(); got != 1 {
		t.Errorf("Buffered after FlushDue = %d, want 1 (the new stream)", got)
	}
	frames, err = e.Flush(context.Background(), stages.FlushAll)
	if err != nil || len(frames) != 1 || frames[0].Metadata.Get(stages.MetaStream) != "new" {
		t.Fatalf("FlushAll = %d frames, %v; want the new stream", len(frames), err)
	}
}
