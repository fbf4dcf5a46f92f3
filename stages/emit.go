package stages

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Backoff bounds of EmitRetrying.
const (
	RetryFirstBackoff = 100 * time.Millisecond
	RetryMaxBackoff   = 5 * time.Second
)

// EmitRetrying hands msg to emit and, while the pipeline nacks it, hands the same
// message over again after a backoff growing from RetryFirstBackoff to
// RetryMaxBackoff. It returns nil once msg was acknowledged, ctx.Err() when ctx
// ends, and any error of emit other than ErrNacked as it is. onNack, if not nil,
// is called with each nack error and the wait before the next attempt.
func EmitRetrying(ctx context.Context, emit EmitFunc, msg *message.Message, onNack func(err error, wait time.Duration)) error {
	wait := RetryFirstBackoff
	for {
		err := emit(ctx, msg)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, ErrNacked):
			return err
		}
		if onNack != nil {
			onNack(err, wait)
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, RetryMaxBackoff)
	}
}

// Sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case. A d <= 0 returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
