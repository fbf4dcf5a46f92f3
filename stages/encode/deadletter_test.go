package encode

import (
	"bytes"
	"context"
	"errors"
	"strings"
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

// In a pipeline, a corrupt frame goes to the dead-letter route on its own and
// the frames around it are decoded.
func TestDecodeDeadLettersOneFrame(t *testing.T) {
	enc, err := NewEncoder(&Config{Codec: "zstd", BlockSize: 2, MaxAge: DefaultMaxAge}, stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := enc.Process(context.Background(), reading.NewMessage(readings("n", "a", 1, 2, 3, 4, 5, 6)))
	if err != nil || len(frames) != 3 {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	f0, f1, f2 := frames[0].Payload, append([]byte(nil), frames[1].Payload...), frames[2].Payload
	f1[len(f1)-1] ^= 0xff // checksum or data: the frame's length still holds
	tests := []struct {
		name       string
		payload    []byte
		wantOut    int
		wantDead   [][]byte
		routeFails bool
		wantErr    bool
	}{
		{name: "corrupt frame between good ones", payload: concat(f0, f1, f2), wantOut: 2, wantDead: [][]byte{f1}},
		{name: "garbage after a good frame", payload: concat(f0, []byte("garbage")), wantOut: 1, wantDead: [][]byte{[]byte("garbage")}},
		{name: "all good", payload: concat(f0, f2), wantOut: 2},
		{name: "route fails", payload: concat(f0, f1), routeFails: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dead []*message.Message
			env := stages.Env{DeadLetters: func(_ context.Context, m *message.Message, reason error) error {
				if tt.routeFails {
					return errors.New("route down")
				}
				if !strings.Contains(reason.Error(), "frame at byte") {
					t.Errorf("reason %v", reason)
				}
				dead = append(dead, m)
				return nil
			}}
			dec, err := NewDecoder(&DecodeConfig{}, env)
			if err != nil {
				t.Fatal(err)
			}
			msg := message.NewMessage("m", tt.payload)
			msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
			msg.Metadata.Set("origin", "test")
			out, err := dec.Process(context.Background(), msg)
			if tt.wantErr {
				if err == nil || stages.IsMalformed(err) {
					t.Fatalf("err = %v, want a plain error (nack)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tt.wantOut || len(dead) != len(tt.wantDead) {
				t.Fatalf("%d out, %d dead letters; want %d and %d", len(out), len(dead), tt.wantOut, len(tt.wantDead))
			}
			for i, m := range dead {
				if !bytes.Equal(m.Payload, tt.wantDead[i]) || m.Metadata.Get("origin") != "test" || m.Metadata.Get(stages.MetaSource) == "" {
					t.Errorf("dead letter %d: %d bytes, metadata %v", i, len(m.Payload), m.Metadata)
				}
			}
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
