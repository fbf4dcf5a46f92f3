package pipelines

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// RawBytesPerReading is what one reading costs uncompressed: an 8-byte Unix
// nanosecond timestamp and an 8-byte float64 value (cloud.RawBytesPerReading
// counts the same on the consuming side). A frame of n readings stands for
// n*RawBytesPerReading raw bytes.
const RawBytesPerReading = 16

// EachFrame calls fn with the header and the size in bytes (as published) of
// every frame in the KindFrame messages of msgs; a message may hold several
// frames back to back. A frame whose checksum is bad is skipped; one whose
// length cannot be read ends its message. Other messages are ignored.
func EachFrame(msgs []*message.Message, fn func(h frame.Header, size int)) {
	for _, m := range msgs {
		if m.Metadata.Get(stages.MetaKind) != stages.KindFrame {
			continue
		}
		for src := m.Payload; len(src) > 0; {
			f, rest, err := frame.Next(src)
			if err != nil {
				break
			}
			if h, err := frame.ReadHeader(f); err == nil {
				fn(h, len(f))
			}
			src = rest
		}
	}
}
