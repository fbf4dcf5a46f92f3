package encode

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// FuzzDecodeDeadLetters feeds arbitrary frame payloads to the decode stage
// with a dead-letter route, as in a pipeline: it never fails or panics, every
// dead letter is the part of the payload at the offset it names, dead letters
// do not overlap, and every output parses.
func FuzzDecodeDeadLetters(f *testing.F) {
	e, err := NewEncoder(&Config{Codec: "zstd", BlockSize: 3, MaxAge: DefaultMaxAge}, stages.Env{})
	if err != nil {
		f.Fatal(err)
	}
	frames, err := e.Process(context.Background(), reading.NewMessage([]reading.Reading{
		{Node: "n", Stream: "a", Time: t0, Value: 1.5}, {Node: "n", Stream: "a", Time: t0.Add(1e9), Value: math.NaN()},
		{Node: "n", Stream: "a", Time: t0.Add(2e9), Value: -0.0},
	}))
	if err != nil || len(frames) != 1 {
		f.Fatal(frames, err)
	}
	good := []byte(frames[0].Payload)
	bad := append([]byte(nil), good...)
	bad[len(bad)-2] ^= 0x55
	f.Add(good)
	f.Add(bytes.Join([][]byte{good, bad, good}, nil))
	f.Add(bytes.Join([][]byte{good, []byte("EFRM\x01")}, nil))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var dead []*message.Message
		env := stages.Env{DeadLetters: func(_ context.Context, m *message.Message, _ error) error {
			dead = append(dead, m)
			return nil
		}}
		d, _ := NewDecoder(&DecodeConfig{MaxReadings: 2}, env)
		msg := message.NewMessage("m", payload)
		msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
		out, err := d.Process(context.Background(), msg)
		if err != nil {
			t.Fatalf("Process with a dead-letter route: %v", err)
		}
		end := 0
		for _, m := range dead {
			var off int
			if _, err := fmt.Sscanf(m.UUID, "m@%d", &off); err != nil {
				t.Fatalf("dead letter id %q", m.UUID)
			}
			if off < end || off+len(m.Payload) > len(payload) || !bytes.Equal(m.Payload, payload[off:off+len(m.Payload)]) {
				t.Fatalf("dead letter at %d (%d bytes) is not the payload's bytes there (previous ended at %d)", off, len(m.Payload), end)
			}
			end = off + len(m.Payload)
		}
		for _, m := range out {
			if _, err := reading.DecodePayload(m.Payload, nil); err != nil {
				t.Fatalf("decoded payload does not parse: %v", err)
			}
		}
	})
}
