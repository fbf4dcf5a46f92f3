package encode

import (
	"context"
	"math"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// FuzzEncodeProcess feeds arbitrary readings payloads to the encoder: a payload
// is either rejected with buffers unchanged, or its readings come back
// bit-exact through Flush and the decode stage.
func FuzzEncodeProcess(f *testing.F) {
	for _, seed := range []string{
		`{"stream":"t","ts":"2026-01-02T15:04:05Z","value":21.5}`,
		"{\"node\":\"n\",\"stream\":\"t\",\"ts\":\"2026-01-02T15:04:05.123Z\",\"value\":\"NaN\"}\n{\"stream\":\"u\",\"ts\":1767366245,\"value\":-0}\n",
		`{"stream":"t","ts":"2026-01-02T15:04:05Z","value":"NaN(0x7ff8000000000000)"}`,
		`{"stream":"env","ts":"2026-01-02T15:04:05Z","values":{"a":1e-300,"b":5e-324}}`,
		`{"stream":"t","ts":"1600-01-01T00:00:00Z","value":1}`,
		"{oops",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := NewEncoder(&Config{Codec: "zstd", BlockSize: 3, MaxAge: DefaultMaxAge}, stages.Env{Node: stages.Node{ID: "n0"}})
		if err != nil {
			t.Fatal(err)
		}
		msg := message.NewMessage("m", payload)
		msg.Metadata.Set(stages.MetaKind, stages.KindReadings)
		frames, err := e.Process(context.Background(), msg)
		if err != nil {
			if e.Buffered() != 0 || len(frames) != 0 {
				t.Fatalf("rejected payload left %d readings buffered and %d frames", e.Buffered(), len(frames))
			}
			return
		}
		more, err := e.Flush(context.Background(), stages.FlushAll)
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
		frames = append(frames, more...)
		want, err := reading.DecodePayload(payload, nil)
		if err != nil {
			t.Fatalf("Process accepted a payload DecodePayload rejects: %v", err)
		}
		d, _ := NewDecoder(DefaultDecodeConfig(), stages.Env{})
		got := map[string][]reading.Reading{}
		for _, fm := range frames {
			out, err := d.Process(context.Background(), fm)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, m := range out {
				rs, err := reading.DecodePayload(m.Payload, nil)
				if err != nil {
					t.Fatalf("decoded payload: %v", err)
				}
				for _, r := range rs {
					got[r.Node+"/"+r.Stream] = append(got[r.Node+"/"+r.Stream], r)
				}
			}
		}
		for _, w := range want {
			if w.Node == "" {
				w.Node = "n0"
			}
			k := w.Node + "/" + w.Stream
			if len(got[k]) == 0 {
				t.Fatalf("reading %+v lost", w)
			}
			g := got[k][0]
			got[k] = got[k][1:]
			if !g.Time.Equal(w.Time) || math.Float64bits(g.Value) != math.Float64bits(w.Value) {
				t.Fatalf("reading %+v came back as %+v", w, g)
			}
		}
	})
}

// FuzzDecodeProcess feeds arbitrary frame payloads to the decoder: it must
// return an error or readings payloads that parse, never panic.
func FuzzDecodeProcess(f *testing.F) {
	e, err := NewEncoder(&Config{Codec: "lz4", BlockSize: 4, MaxAge: DefaultMaxAge}, stages.Env{})
	if err != nil {
		f.Fatal(err)
	}
	in := reading.NewMessage([]reading.Reading{
		{Node: "n", Stream: "a", Time: t0, Value: 1.5}, {Node: "n", Stream: "a", Time: t0.Add(1e9), Value: math.NaN()},
		{Node: "n", Stream: "b", Time: t0, Value: math.Inf(-1)},
	})
	if _, err := e.Process(context.Background(), in); err != nil {
		f.Fatal(err)
	}
	frames, err := e.Flush(context.Background(), stages.FlushAll)
	if err != nil {
		f.Fatal(err)
	}
	for _, fm := range frames {
		f.Add([]byte(fm.Payload))
	}
	f.Add(append(append([]byte{}, frames[0].Payload...), frames[1].Payload...))
	f.Add([]byte("EFRM"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, _ := NewDecoder(&DecodeConfig{MaxReadings: 2}, stages.Env{})
		msg := message.NewMessage("m", payload)
		msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
		out, err := d.Process(context.Background(), msg)
		if err != nil {
			return
		}
		for _, m := range out {
			if _, err := reading.DecodePayload(m.Payload, nil); err != nil {
				t.Fatalf("decoded payload does not parse: %v\n%s", err, m.Payload)
			}
		}
	})
}
