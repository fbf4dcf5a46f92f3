package spool

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// TestMemoryDoesNotGrowWithTheBacklog spools 40 MB while the sink is down and
// checks that the heap grew by far less: the backlog stays on disk.
func TestMemoryDoesNotGrowWithTheBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MB")
	}
	sink := &recordingSink{fail: true}
	s := open(t, filepath.Join(t.TempDir(), "big.db"), testConfig(), sink)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	payload := make([]byte, 2048)
	for i := range 200 {
		batch := make([]*message.Message, 100)
		for j := range batch {
			batch[j] = message.NewMessage("", payload)
		}
		if err := s.Append(context.Background(), batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	grown := int64(heap()) - int64(before)
	st := s.Stats()
	t.Logf("backlog %d messages, %d MB; heap grew by %d KB", st.Depth, st.Bytes>>20, grown>>10)
	if st.Depth != 20_000 {
		t.Fatalf("depth %d, want 20000", st.Depth)
	}
	if grown > 8<<20 {
		t.Errorf("heap grew by %d MB with a %d MB backlog", grown>>20, st.Bytes>>20)
	}
}
