package cloud

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// FuzzDecodeMessage feeds arbitrary payloads of both kinds to the consumer's
// decoding: it must return batches or an error, never panic, and every batch
// must be consistent with its frame header.
func FuzzDecodeMessage(f *testing.F) {
	enc, err := frame.NewEncoder(frame.Options{Codec: frame.CodecZlib})
	if err != nil {
		f.Fatal(err)
	}
	good, err := enc.Encode(nil, &frame.Block{Node: "n", Stream: "s", Seq: 3,
		Timestamps: []int64{1e18, 1e18 + 1e9, 1e18 + 2e9}, Values: []float64{1.5, 1.25, -3}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(true, good)
	f.Add(true, append(append([]byte{}, good...), good...))
	f.Add(true, good[:len(good)-3])
	f.Add(true, []byte{})
	f.Add(false, []byte("{\"stream\":\"a\",\"ts\":\"2026-01-01T00:00:00Z\",\"value\":1}\n\n{\"stream\":\"b\",\"ts\":1767225600,\"value\":\"NaN\"}\n"))
	f.Add(false, []byte("{\"stream\":\"a\"}\n"))
	f.Fuzz(func(t *testing.T, isFrame bool, payload []byte) {
		c := &Consumer{dec: frame.NewDecoder()}
		msg := message.NewMessage("fuzz", payload)
		msg.Metadata.Set(stages.MetaNode, "node")
		if isFrame {
			msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
		} else {
			msg.Metadata.Set(stages.MetaKind, stages.KindReadings)
		}
		bs, err := c.decode(msg, Position{})
		if err != nil {
			return
		}
		total := 0
		for _, b := range bs {
			total += b.WireBytes
			if b.Kind == stages.KindFrame && (b.Header.Count != len(b.Readings) || b.Header.Node != b.Node || b.Header.Seq != b.Seq) {
				t.Fatalf("batch %+v inconsistent with its header", b.Header)
			}
		}
		if total != len(payload) {
			t.Fatalf("batches cover %d bytes of %d", total, len(payload))
		}
	})
}
