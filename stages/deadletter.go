package stages

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Metadata a dead letter carries besides the original message's own
// (docs/topics.md, docs/reliability.md "Dead letters").
const (
	// MetaError is why the input could not be used: the parse error, with the
	// line or field it names.
	MetaError = "edgeflow-error"
	// MetaErrorStep is the step that gave up on the input: "sources[0] (file)",
	// "stages[1] (decode)".
	MetaErrorStep = "edgeflow-error-step"
	// MetaSource says where the input came from, as the source knows it:
	// "data/plant.csv:17", "mqtt sensors/room1/temp", "http 10.0.0.7:51234".
	MetaSource = "edgeflow-source"
)

// MalformedError marks an input that can never be processed, however often it
// is redelivered: a line that does not parse, a corrupt frame. A processor
// returns one (Malformed) to have the runtime move the input message to the
// pipeline's dead-letter destination and acknowledge it, instead of nacking it.
type MalformedError struct{ Err error }

func (e *MalformedError) Error() string { return e.Err.Error() }
func (e *MalformedError) Unwrap() error { return e.Err }

// Malformed wraps err as a *MalformedError; nil stays nil.
func Malformed(err error) error {
	if err == nil {
		return nil
	}
	return &MalformedError{Err: err}
}

// IsMalformed reports whether err is or wraps a *MalformedError.
func IsMalformed(err error) bool {
	var me *MalformedError
	return errors.As(err, &me)
}

// DeadLetterFunc hands msg, an input that cannot be parsed, to the pipeline's
// dead-letter destination with reason. It returns nil once the destination took
// it (or, with no destination configured, once it was logged and counted);
// an error means the input is not safe yet: a source should then not
// acknowledge it to its producer.
type DeadLetterFunc func(ctx context.Context, msg *message.Message, reason error) error

// DeadLetter hands msg to e.DeadLetters, the runtime's dead-letter route for
// this step; without one (a stage built outside a pipeline) it logs the reason
// and returns nil. msg's payload should be the raw input (the bad line, body
// or payload) and its MetaSource metadata where it came from.
func (e Env) DeadLetter(ctx context.Context, msg *message.Message, reason error) error {
	if e.DeadLetters != nil {
		return e.DeadLetters(ctx, msg, reason)
	}
	e.Log().Warn("input cannot be parsed; dropped (no dead-letter route)",
		"source", msg.Metadata.Get(MetaSource), "error", reason)
	return nil
}

// DeadLetterRetrying hands msg to env.DeadLetter and, while that fails, tries
// again after a backoff growing from RetryFirstBackoff to RetryMaxBackoff, so
// that a source never acknowledges an input before its dead letter is safe. It
// returns nil once the dead letter was taken and ctx.Err() when ctx ends.
// onFail, if not nil, is called with each failure and the wait before the next
// attempt.
func DeadLetterRetrying(ctx context.Context, env Env, msg *message.Message, reason error, onFail func(err error, wait time.Duration)) error {
	wait := RetryFirstBackoff
	for {
		err := env.DeadLetter(ctx, msg, reason)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if onFail != nil {
			onFail(err, wait)
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, RetryMaxBackoff)
	}
}

// NewDeadLetter returns a message holding raw, an input that cannot be parsed,
// with MetaSource set to source (where it came from). Its metadata may be
// extended before it is handed to Env.DeadLetter.
func NewDeadLetter(raw []byte, source string) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), raw)
	msg.Metadata.Set(MetaSource, source)
	return msg
}
