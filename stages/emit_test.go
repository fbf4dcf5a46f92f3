package stages

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestEmitRetrying(t *testing.T) {
	errDisk := errors.New("disk gone")
	tests := []struct {
		name      string
		results   []error // emit's answers in turn
		cancelAt  int     // cancel ctx during this call (1-based); 0: never
		wantErr   error
		wantCalls int
	}{
		{name: "acked", results: []error{nil}, wantCalls: 1},
		{name: "nacked twice then acked", results: []error{fmt.Errorf("x: %w", ErrNacked), ErrNacked, nil}, wantCalls: 3},
		{name: "other error returned", results: []error{errDisk}, wantErr: errDisk, wantCalls: 1},
		{name: "ctx ends while nacked", results: []error{ErrNacked, ErrNacked}, cancelAt: 2, wantErr: context.Canceled, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msg := message.NewMessage("m-1", []byte("x"))
			calls := 0
			begin := time.Now()
			err := EmitRetrying(ctx, func(ctx context.Context, got *message.Message) error {
				calls++
				if got != msg {
					t.Fatal("a different message was emitted")
				}
				if calls == tt.cancelAt {
					cancel()
				}
				return tt.results[calls-1]
			}, msg, nil)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || calls != tt.wantCalls {
				t.Fatalf("err %v after %d calls; want %v after %d", err, calls, tt.wantErr, tt.wantCalls)
			}
			if tt.name == "nacked twice then acked" && time.Since(begin) < RetryFirstBackoff*3 {
				t.Fatalf("retried after %v; want backoffs of %v and %v", time.Since(begin), RetryFirstBackoff, 2*RetryFirstBackoff)
			}
		})
	}
}
