package encode

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func TestSeqStoreNumbering(t *testing.T) {
	tests := []struct {
		name     string
		restarts int // reopen the store this many times
		perRun   int // numbers taken per stream per run
	}{
		{name: "one run", restarts: 0, perRun: 3000},
		{name: "restart inside the first reservation", restarts: 1, perRun: 10},
		{name: "restart exactly at a reservation boundary", restarts: 2, perRun: SeqReserve},
		{name: "many restarts", restarts: 5, perRun: 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := SeqFilePath(t.TempDir(), "pipe/line")
			last := map[string]uint64{}
			for run := 0; run <= tt.restarts; run++ {
				s, err := OpenSeqStore(path, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, stream := range []string{"a", "b"} {
					for i := 0; i < tt.perRun; i++ {
						seq, err := s.Next("n", stream)
						if err != nil {
							t.Fatal(err)
						}
						if seq <= last[stream] {
							t.Fatalf("run %d stream %s: seq %d after %d", run, stream, seq, last[stream])
						}
						if run == 0 && i == 0 && seq != 1 {
							t.Fatalf("first number = %d, want 1", seq)
						}
						// A restart skips at most one reservation's worth.
						if i == 0 && run > 0 && seq-last[stream] > SeqReserve {
							t.Errorf("run %d stream %s: gap %d > %d", run, stream, seq-last[stream], SeqReserve)
						}
						last[stream] = seq
					}
				}
			}
		})
	}
}

func TestSeqStoreInMemory(t *testing.T) {
	s, err := OpenSeqStore("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		if got, err := s.Next("n", "a"); got != want || err != nil {
			t.Fatalf("Next = %d, %v; want %d", got, err, want)
		}
	}
}

func TestSeqStoreBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantMsg string
	}{
		{name: "not JSON", content: "{", wantMsg: "unexpected end of JSON input"},
		{name: "unknown version", content: `{"version":7,"streams":[]}`, wantMsg: "version 7 unknown"},
		{name: "wrong type", content: `{"version":1,"streams":[{"node":"n","stream":"a","reserved":-1}]}`, wantMsg: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.seq.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := OpenSeqStore(path, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("OpenSeqStore = %v, want an error naming %s and saying %q", err, path, tt.wantMsg)
			}
		})
	}
}

// Two stores on one file (two encode stages of one pipeline) keep each
// other's reservations.
func TestSeqStoreSharedFile(t *testing.T) {
	path := SeqFilePath(t.TempDir(), "p")
	s1, _ := OpenSeqStore(path, nil)
	s2, _ := OpenSeqStore(path, nil)
	if _, err := s1.Next("n", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Next("n", "b"); err != nil {
		t.Fatal(err)
	}
	s3, err := OpenSeqStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"a", "b"} {
		if got, _ := s3.Next("n", stream); got != SeqReserve+1 {
			t.Errorf("stream %s after reopen: %d, want %d", stream, got, SeqReserve+1)
		}
	}
}

// An encoder rebuilt on the same data dir numbers frames above every number
// used before, and the frames of the first run decode to the same readings.
func TestEncoderSeqSurvivesRestart(t *testing.T) {
	env := stages.Env{Node: stages.Node{ID: "n", DataDir: t.TempDir()}, Pipeline: "p"}
	cfg := DefaultConfig()
	cfg.BlockSize = 2
	var last uint64
	for run := 0; run < 3; run++ {
		e, err := NewEncoder(cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Process(context.Background(), reading.NewMessage(readings("n", "a", 1, 2, 3, 4, 5, 6)))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 {
			t.Fatalf("run %d: %d frames, want 3", run, len(out))
		}
		for _, m := range out {
			seq, err := strconv.ParseUint(m.Metadata.Get(stages.MetaSeq), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if seq <= last {
				t.Fatalf("run %d: seq %d after %d", run, seq, last)
			}
			last = seq
		}
	}
	if last != 2*SeqReserve+3 {
		t.Errorf("last seq = %d, want %d (a reservation skipped per restart)", last, 2*SeqReserve+3)
	}
}

const seqChildEnv = "EDGEFLOW_TEST_SEQSTORE_CHILD"

// TestSeqStoreChild is the child process of TestSeqStoreSurvivesSIGKILL: it
// prints every number it hands out, forever.
func TestSeqStoreChild(t *testing.T) {
	path := os.Getenv(seqChildEnv)
	if path == "" {
		t.Skip("child process of TestSeqStoreSurvivesSIGKILL")
	}
	s, err := OpenSeqStore(path, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		stream := []string{"a", "b", "c"}[i%3]
		seq, err := s.Next("n", stream)
		if err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(2)
		}
		fmt.Fprintln(w, stream, seq)
		w.Flush() // printed only once handed out: the parent sees no number the store did not cover
	}
}

// A process killed with SIGKILL at an arbitrary moment leaves a sequence file
// above every number it handed out.
func TestSeqStoreSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := SeqFilePath(t.TempDir(), "p")
	used := map[string]uint64{}
	for round, stop := range []int{500, 2500, 4000, 1} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSeqStoreChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), seqChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for n := 0; n < stop && sc.Scan(); n++ {
			stream, num, ok := strings.Cut(sc.Text(), " ")
			seq, err := strconv.ParseUint(num, 10, 64)
			if !ok || err != nil {
				t.Fatalf("round %d: child printed %q", round, sc.Text())
			}
			if seq <= used[stream] {
				t.Fatalf("round %d: stream %s reused %d (before: up to %d)", round, stream, seq, used[stream])
			}
			used[stream] = seq
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Numbers printed after stop but before the kill count too.
		for sc.Scan() {
			stream, num, _ := strings.Cut(sc.Text(), " ")
			if seq, err := strconv.ParseUint(num, 10, 64); err == nil && seq > used[stream] {
				used[stream] = seq
			}
		}
		waitErr := make(chan error, 1)
		go func() { waitErr <- cmd.Wait() }()
		select {
		case <-waitErr:
		case <-time.After(10 * time.Second):
			t.Fatal("child did not exit after SIGKILL")
		}
	}
	s, err := OpenSeqStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for stream, u := range used {
		if got, _ := s.Next("n", stream); got <= u {
			t.Errorf("stream %s: next %d after a SIGKILL, but %d was used", stream, got, u)
		}
	}
}

// BenchmarkSeqStoreNext measures one sequence number, in memory and with the
// durable file (one fsync'd rewrite per SeqReserve numbers of a stream).
func BenchmarkSeqStoreNext(b *testing.B) {
	for _, bc := range []struct {
		name string
		path func() string
	}{
		{"memory", func() string { return "" }},
		{"file", func() string { return SeqFilePath(b.TempDir(), "p") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := OpenSeqStore(bc.path(), nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Next("n", "a"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
