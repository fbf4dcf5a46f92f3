package mqtt

import (
	"context"
	"time"

	"github.com/edgeflow/edgeflow/stages"
)

// deadLetter hands a payload that does not parse to the pipeline's dead-letter
// route, with "mqtt TOPIC" as its source, and waits until the route took it;
// only then is the message acknowledged to the broker.
func (s *Source) deadLetter(ctx context.Context, in received, reason error) error {
	msg := stages.NewDeadLetter(in.pub.Payload, "mqtt "+in.pub.Topic)
	copyTraceContext(in.pub, msg.Metadata)
	return stages.DeadLetterRetrying(ctx, s.env, msg, reason, func(err error, wait time.Duration) {
		s.log.Warn("mqtt source: dead letter not written; retrying", "topic", in.pub.Topic, "err", err, "wait", wait)
	})
}
