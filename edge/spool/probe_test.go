package spool

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/metric/noop"
)

// linkSink is a sink whose link is down until back; it notes its first
// successful Write.
type linkSink struct {
	back time.Time

	mu        sync.Mutex
	firstOK   time.Time
	forwarded int
}

var errLinkDown = errors.New("link down")

func (l *linkSink) Write(ctx context.Context, msgs []*message.Message) error {
	if time.Now().Before(l.back) {
		return errLinkDown
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.firstOK.IsZero() {
		l.firstOK = time.Now()
	}
	l.forwarded += len(msgs)
	return nil
}

func (l *linkSink) ProbeLink(ctx context.Context) error {
	if time.Now().Before(l.back) {
		return errLinkDown
	}
	return nil
}

func (l *linkSink) drainedAt() (time.Time, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstOK, l.forwarded
}

// TestDrainStartsWhenLinkIsBack: with a long retry backoff (retry_max_wait
// 30s), a spool whose sink probes its link sends again within about
// ProbeInterval of the link coming back; without probing it waits out the
// backoff. The link is down for 3.3s: the retries after failures at 0, 50,
// 150, 350, 750, 1550 and 3150 ms would next come at 6350 ms.
func TestDrainStartsWhenLinkIsBack(t *testing.T) {
	tests := []struct {
		name     string
		probe    bool
		minDelay time.Duration
		maxDelay time.Duration
	}{
		{name: "probing", probe: true, maxDelay: ProbeInterval + 500*time.Millisecond},
		{name: "backoff only", probe: false, minDelay: 2 * time.Second, maxDelay: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.RetryMaxWait = 30 * time.Second
			start := time.Now()
			sink := &linkSink{back: start.Add(3300 * time.Millisecond)}
			opts := Options{MeterProvider: noop.NewMeterProvider()}
			if tt.probe {
				opts.LinkProbe = sink.ProbeLink
			}
			s, err := Open(filepath.Join(t.TempDir(), "s.db"), cfg, sink, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Append(context.Background(), msgs(0, 10)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				if at, n := sink.drainedAt(); n == 10 {
					delay := at.Sub(sink.back)
					t.Logf("link back after %s; first write went through %s later", sink.back.Sub(start).Round(time.Millisecond), delay.Round(time.Millisecond))
					if delay < tt.minDelay || delay > tt.maxDelay {
						t.Errorf("drain started %s after the link was back, want %s to %s", delay, tt.minDelay, tt.maxDelay)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("spool not drained within 15s")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestNewSinkProbesThroughLinkProber: NewSink takes the probe from a sink that
// is a LinkProber.
func TestNewSinkProbesThroughLinkProber(t *testing.T) {
	sink := &linkSink{back: time.Now()}
	s, err := NewSink(filepath.Join(t.TempDir(), "s.db"), testConfig(), sink, Options{MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.spool.probe == nil {
		t.Fatal("spool does not probe through a LinkProber sink")
	}
}
