package cloud

import (
	"fmt"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// Batch is what one Kafka message delivers to a handler: the readings of one
// frame, or of one readings message.
type Batch struct {
	Kind   string // stages.KindFrame or stages.KindReadings
	Node   string // edge node id
	Stream string // stream name; for readings messages "" when the readings span several streams
	// Seq is the frame's per (node, stream) sequence number; 0 for readings messages.
	Seq uint64
	// Header is the frame's header; zero for readings messages.
	Header   frame.Header
	Readings []reading.Reading
	// WireBytes is the size of the message payload as it was on the wire.
	WireBytes int
	// Position is where the message was read from.
	Position Position
}

// Key is the (node, stream) the batch belongs to.
func (b Batch) Key() StreamKey { return StreamKey{Node: b.Node, Stream: b.Stream} }

// Position locates a Kafka message.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
}

func (p Position) String() string {
	return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset)
}

// readingsBatch builds the Batch of a readings message: JSON lines as
// reading.DecodePayload reads them. Readings without a node get the message's.
func readingsBatch(payload []byte, meta map[string]string) (Batch, error) {
	rs, err := reading.DecodePayload(payload, nil)
	if err != nil {
		return Batch{}, err
	}
	if node := meta[stages.MetaNode]; node != "" {
		for i := range rs {
			if rs[i].Node == "" {
				rs[i].Node = node
			}
		}
	}
	b := Batch{Kind: stages.KindReadings, Node: meta[stages.MetaNode], Stream: meta[stages.MetaStream], Readings: rs, WireBytes: len(payload)}
	if len(rs) > 0 {
		if b.Node == "" {
			b.Node = rs[0].Node
		}
		if b.Stream == "" {
			b.Stream = rs[0].Stream
			for _, r := range rs[1:] {
				if r.Stream != b.Stream {
					b.Stream = ""
					break
				}
			}
		}
	}
	return b, nil
}
