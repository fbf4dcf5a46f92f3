package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/metric/noop"
)

// recordingSink keeps what it was given; while fail is set, Write fails.
type recordingSink struct {
	mu     sync.Mutex
	got    []*message.Message
	fail   bool
	writes int
}

func (r *recordingSink) Write(ctx context.Context, msgs []*message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	if r.fail {
		return errors.New("link down")
	}
	r.got = append(r.got, msgs...)
	return nil
}

func (r *recordingSink) setFail(f bool) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *recordingSink) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.got))
	for i, m := range r.got {
		out[i] = string(m.Payload)
	}
	return out
}

func msgs(from, n int) []*message.Message {
	out := make([]*message.Message, n)
	for i := range out {
		out[i] = message.NewMessage(fmt.Sprintf("uuid-%d", from+i), []byte(strconv.Itoa(from+i)))
		out[i].Metadata.Set("edgeflow-seq", strconv.Itoa(from+i))
	}
	return out
}

func testConfig() Config {
	c := *DefaultConfig()
	c.RetryMaxWait = 100 * time.Millisecond
	c.DrainTimeout = time.Second
	return c
}

func open(t *testing.T, path string, cfg Config, sink *recordingSink) *Spool {
	t.Helper()
	s, err := Open(path, cfg, sink, Options{MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func want(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestForwardsInOrderWithMetadata(t *testing.T) {
	sink := &recordingSink{}
	cfg := testConfig()
	cfg.BatchMessages = 7
	s := open(t, filepath.Join(t.TempDir(), "s.db"), cfg, sink)
	ctx := context.Background()
	for from := 1; from <= 100; from += 10 {
		if err := s.Append(ctx, msgs(from, 10)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "100 messages forwarded", func() bool { return len(sink.payloads()) == 100 })
	if got := sink.payloads(); !equal(got, want(1, 100)) {
		t.Fatalf("forwarded %v", got)
	}
	m := sink.got[41]
	if m.UUID != "uuid-42" || m.Metadata.Get("edgeflow-seq") != "42" {
		t.Errorf("message 42 came back as uuid %q metadata %v", m.UUID, m.Metadata)
	}
	waitFor(t, "empty spool", func() bool { st := s.Stats(); return st.Depth == 0 && st.Bytes == 0 })
	if st := s.Stats(); st.Appended != 100 || st.Forwarded != 100 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetriesUntilTheSinkIsBack(t *testing.T) {
	sink := &recordingSink{fail: true}
	s := open(t, filepath.Join(t.TempDir(), "s.db"), testConfig(), sink)
	if err := s.Append(context.Background(), msgs(1, 5)); err != nil {
		t.Fatal(err)
	}
	// Long enough for the backoff to reach its cap.
	time.Sleep(500 * time.Millisecond)
	if st := s.Stats(); st.WriteErrors < 3 || st.Depth != 5 {
		t.Fatalf("while failing: %+v", st)
	}
	sink.setFail(false)
	back := time.Now()
	waitFor(t, "forwarded after recovery", func() bool { return len(sink.payloads()) == 5 })
	// The cap is 100ms here: the spool must notice within about that.
	if d := time.Since(back); d > time.Second {
		t.Errorf("took %s to notice the sink was back (retry_max_wait 100ms)", d)
	}
}

func TestWhenFull(t *testing.T) {
	tests := []struct {
		name          string
		policy        Policy
		wantForwarded []string
		wantDropped   uint64
	}{
		{"drop_oldest keeps the newest", PolicyDropOldest, want(4, 8), 3},
		{"block keeps everything", PolicyBlock, want(1, 8), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{fail: true}
			cfg := testConfig()
			cfg.MaxMessages = 5
			cfg.WhenFull = tt.policy
			s := open(t, filepath.Join(t.TempDir(), "s.db"), cfg, sink)
			for i := 1; i <= 5; i++ {
				if err := s.Append(context.Background(), msgs(i, 1)); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() {
				var err error
				for i := 6; i <= 8 && err == nil; i++ {
					err = s.Append(context.Background(), msgs(i, 1))
				}
				done <- err
			}()
			if tt.policy == PolicyBlock {
				select {
				case err := <-done:
					t.Fatalf("Append into a full spool returned %v, want it to wait", err)
				case <-time.After(200 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				// A second writer gives up with its context.
				if err := s.Append(ctx, msgs(100, 1)); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Append with a context that ends = %v, want DeadlineExceeded", err)
				}
				cancel()
				sink.setFail(false)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			sink.setFail(false)
			waitFor(t, "forwarded", func() bool { return len(sink.payloads()) == len(tt.wantForwarded) })
			if got := sink.payloads(); !equal(got, tt.wantForwarded) {
				t.Errorf("forwarded %v, want %v", got, tt.wantForwarded)
			}
			st := s.Stats()
			if st.DroppedFull != tt.wantDropped {
				t.Errorf("dropped %d, want %d", st.DroppedFull, tt.wantDropped)
			}
			if tt.policy == PolicyBlock && st.Blocked == 0 {
				t.Errorf("Blocked not counted: %+v", st)
			}
		})
	}
}

func TestBatchTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessages = 3
	s := open(t, filepath.Join(t.TempDir(), "s.db"), cfg, &recordingSink{})
	if err := s.Append(context.Background(), msgs(1, 4)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of 4 into max_messages 3 = %v, want ErrTooLarge", err)
	}
}

func TestExpiredMessagesAreDroppedAndCounted(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sink := &recordingSink{fail: true}
	cfg := testConfig()
	cfg.MaxAge = time.Hour
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), cfg, sink, Options{MeterProvider: noop.NewMeterProvider(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(context.Background(), msgs(1, 3)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if err := s.Append(context.Background(), msgs(4, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "expiry", func() bool { return s.Stats().Expired == 3 })
	sink.setFail(false)
	waitFor(t, "forwarded", func() bool { return len(sink.payloads()) == 2 })
	if got := sink.payloads(); !equal(got, want(4, 5)) {
		t.Errorf("forwarded %v, want 4 5", got)
	}
}

// copyFile copies an open spool's file as a crash would leave it: no Close.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReopenWithoutCloseResumes(t *testing.T) {
	dir := t.TempDir()
	down := &recordingSink{fail: true}
	s := open(t, filepath.Join(dir, "a.db"), testConfig(), down)
	for from := 1; from <= 50; from += 5 {
		if err := s.Append(context.Background(), msgs(from, 5)); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"))
	up := &recordingSink{}
	r := open(t, filepath.Join(dir, "b.db"), testConfig(), up)
	if st := r.Stats(); st.Depth != 50 {
		t.Errorf("reopened spool holds %d messages, want 50", st.Depth)
	}
	waitFor(t, "forwarded", func() bool { return len(up.payloads()) == 50 })
	if got := up.payloads(); !equal(got, want(1, 50)) {
		t.Errorf("forwarded %v", got)
	}
	// New appends continue after the old keys.
	if err := r.Append(context.Background(), msgs(51, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "forwarded", func() bool { return len(up.payloads()) == 51 })
}

func TestCloseDrainsAndReopenKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	sink := &recordingSink{}
	s, err := Open(path, testConfig(), sink, Options{MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), msgs(1, 20)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := sink.payloads(); !equal(got, want(1, 20)) {
		t.Errorf("Close drained %v, want 1..20", got)
	}
	if err := s.Append(context.Background(), msgs(21, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}
