package cloud_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/cloud"
)

// memorySubscriber is a watermill subscriber over a fixed list of messages. It
// hands them out one at a time in order, gives a Nacked message again before the
// next, and closes done once every message was Acked.
type memorySubscriber struct {
	msgs []*message.Message
	done chan struct{}
	once sync.Once
}

func newMemorySubscriber(msgs ...*message.Message) *memorySubscriber {
	return &memorySubscriber{msgs: msgs, done: make(chan struct{})}
}

func (s *memorySubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for _, m := range s.msgs {
			for {
				c := m.Copy()
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
				select {
				case <-c.Acked():
				case <-c.Nacked():
					continue
				case <-ctx.Done():
					return
				}
				break
			}
		}
		s.once.Do(func() { close(s.done) })
		<-ctx.Done()
	}()
	return out, nil
}

func (s *memorySubscriber) Close() error { return nil }

// runUntilDone runs c until sub handed out and saw Acked every message.
func runUntilDone(c *cloud.Consumer, sub *memorySubscriber, h cloud.Handler) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-sub.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := c.Run(ctx, h)
	select {
	case <-sub.done:
		if errors.Is(err, context.Canceled) {
			return nil
		}
	default:
	}
	return err
}
