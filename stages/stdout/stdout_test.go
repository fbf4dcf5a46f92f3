package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestConformance(t *testing.T) {
	stagetest.Run(t, stages.KindSink, "stdout", stagetest.Features{})
}

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func frameMessage(t *testing.T) *message.Message {
	t.Helper()
	enc, err := frame.NewEncoder(frame.Options{Codec: frame.CodecZstd})
	if err != nil {
		t.Fatal(err)
	}
	b := &frame.Block{Node: "n1", Stream: "temp", Seq: 3,
		Timestamps: []int64{t0.UnixNano(), t0.Add(time.Second).UnixNano()}, Values: []float64{21.25, 21.5}}
	payload, err := enc.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("frame-1", payload)
	msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
	return msg
}

func TestWrite(t *testing.T) {
	rs := []reading.Reading{{Node: "n1", Stream: "a", Time: t0, Value: 1}}
	tests := []struct {
		name   string
		decode bool
		msgs   func(t *testing.T) []*message.Message
		want   string
	}{
		{name: "readings", msgs: func(t *testing.T) []*message.Message { return []*message.Message{reading.NewMessage(rs)} },
			want: `{"node":"n1","stream":"a","ts":"2026-01-02T15:04:05Z","value":1}` + "\n"},
		{name: "frame summary", msgs: func(t *testing.T) []*message.Message { return []*message.Message{frameMessage(t)} },
			want: `{"frame":{"node":"n1","stream":"temp","seq":3,"codec":"zstd","lossy":false,"first_ts":"2026-01-02T15:04:05Z","count":2,"bytes":`},
		{name: "frame decoded", decode: true, msgs: func(t *testing.T) []*message.Message { return []*message.Message{frameMessage(t)} },
			want: `{"node":"n1","stream":"temp","ts":"2026-01-02T15:04:05Z","value":21.25}` + "\n" +
				`{"node":"n1","stream":"temp","ts":"2026-01-02T15:04:06Z","value":21.5}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := New(&out, tt.decode).Write(context.Background(), tt.msgs(t)); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), tt.want) {
				t.Fatalf("printed %q, want %q", out.String(), tt.want)
			}
			if !tt.decode && strings.HasPrefix(out.String(), "{\"frame\"") && !json.Valid(bytes.TrimSpace(out.Bytes())) {
				t.Fatalf("summary %q is not JSON", out.String())
			}
		})
	}
}

func TestWriteMalformed(t *testing.T) {
	bad := frameMessage(t)
	bad.Payload[len(bad.Payload)-1] ^= 1 // checksum
	noKind := message.NewMessage("m-2", []byte("x"))
	badReadings := message.NewMessage("m-3", []byte("{}\n"))
	badReadings.Metadata.Set(stages.MetaKind, stages.KindReadings)
	for _, decode := range []bool{false, true} {
		for _, msg := range []*message.Message{bad, noKind, badReadings} {
			var out bytes.Buffer
			err := New(&out, decode).Write(context.Background(), []*message.Message{reading.NewMessage(nil), msg})
			if err == nil || !strings.Contains(err.Error(), msg.UUID) || out.Len() != 0 {
				t.Errorf("decode=%v message %s: error %v, printed %q", decode, msg.UUID, err, out.String())
			}
		}
	}
}

func TestInferenceLines(t *testing.T) {
	var out bytes.Buffer
	s := &Sink{w: &out}
	ok := message.NewMessage("r1", []byte(`{"kind":"ssd","detections":[]}`+"\n"))
	ok.Metadata.Set(stages.MetaKind, stages.KindInference)
	if err := s.Write(context.Background(), []*message.Message{ok}); err != nil {
		t.Fatal(err)
	}
	if out.String() != `{"kind":"ssd","detections":[]}`+"\n" {
		t.Fatalf("printed %q", out.String())
	}
	bad := message.NewMessage("r2", []byte("{half"))
	bad.Metadata.Set(stages.MetaKind, stages.KindInference)
	if err := s.Write(context.Background(), []*message.Message{bad}); err == nil || !strings.Contains(err.Error(), "r2") {
		t.Fatalf("error %v", err)
	}
}
