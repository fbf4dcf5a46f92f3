package encode

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// Inputs that can never be processed fail with stages.Malformed (the runtime
// dead-letters them); a message of the wrong kind is a pipeline mistake and
// fails plainly.
func TestMalformedInputs(t *testing.T) {
	enc, err := NewEncoder(DefaultConfig(), stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(DefaultDecodeConfig(), stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	good := reading.NewMessage(readings("n", "a", 1, 2))
	frames, err := enc.Flush(context.Background(), stages.FlushAll)
	if err != nil || len(frames) != 0 {
		t.Fatal(frames, err)
	}
	if _, err := enc.Process(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	frames, _ = enc.Flush(context.Background(), stages.FlushAll)
	if len(frames) != 1 {
		t.Fatalf("%d frames", len(frames))
	}
	corrupt := append([]byte(nil), frames[0].Payload...)
	corrupt[len(corrupt)/2] ^= 0xff

	withKind := func(kind string, payload []byte) *message.Message {
		m := message.NewMessage("m", payload)
		m.Metadata.Set(stages.MetaKind, kind)
		return m
	}
	tests := []struct {
		name          string
		proc          stages.Processor
		msg           *message.Message
		wantMalformed bool
	}{
		{name: "encode: not JSON lines", proc: enc, msg: withKind(stages.KindReadings, []byte("{bad\n")), wantMalformed: true},
		{name: "encode: empty stream", proc: enc, msg: withKind(stages.KindReadings, []byte(`{"stream":"","ts":1,"value":1}`)), wantMalformed: true},
		{name: "encode: wrong kind", proc: enc, msg: withKind(stages.KindFrame, nil)},
		{name: "decode: corrupt frame", proc: dec, msg: withKind(stages.KindFrame, corrupt), wantMalformed: true},
		{name: "decode: truncated frame", proc: dec, msg: withKind(stages.KindFrame, frames[0].Payload[:10]), wantMalformed: true},
		{name: "decode: wrong kind", proc: dec, msg: withKind(stages.KindReadings, frames[0].Payload)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.proc.Process(context.Background(), tt.msg)
			if err == nil {
				t.Fatal("no error")
			}
			if got := stages.IsMalformed(err); got != tt.wantMalformed {
				t.Errorf("IsMalformed(%v) = %v, want %v", err, got, tt.wantMalformed)
			}
		})
	}
}
