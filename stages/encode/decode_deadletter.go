package encode

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// deadLetter hands part, the bytes of msg's payload from offset on that do not
// decode, to the pipeline's dead-letter route with msg's metadata. Without a
// route it returns the reason as a stages.Malformed error (the whole message
// fails); a route that fails gives an error that nacks the message.
func (d *Decoder) deadLetter(ctx context.Context, msg *message.Message, part []byte, offset int, cause error) error {
	reason := fmt.Errorf("decode: message %s: frame at byte %d: %w", msg.UUID, offset, cause)
	if d.env.DeadLetters == nil {
		return stages.Malformed(reason)
	}
	dl := message.NewMessage(fmt.Sprintf("%s@%d", msg.UUID, offset), part)
	for k, v := range msg.Metadata {
		dl.Metadata.Set(k, v)
	}
	dl.Metadata.Set(stages.MetaSource, fmt.Sprintf("message %s bytes %d-%d", msg.UUID, offset, offset+len(part)))
	dl.SetContext(msg.Context())
	if err := d.env.DeadLetter(ctx, dl, reason); err != nil {
		return fmt.Errorf("%w; dead letter not written: %v", reason, err)
	}
	return nil
}
