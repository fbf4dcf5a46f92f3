package encode

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSeqFile feeds arbitrary sequence files to OpenSeqStore: it never
// panics, refuses what it cannot read with an error naming the file, and a
// store it opens numbers every listed stream above its reservation and
// writes a file it opens again.
func FuzzSeqFile(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"streams":[{"node":"n","stream":"a","reserved":1024}]}`,
		`{"version":1,"streams":[{"node":"n","stream":"a","reserved":18446744073709551614},{"node":"","stream":"","reserved":0}]}`,
		`{"version":1,"streams":[{"node":"n","stream":"a","reserved":5},{"node":"n","stream":"a","reserved":7}]}`,
		`{"version":1,"streams":null}`, `{"version":2}`, `{`, ``, `[]`, `{"version":1,"streams":[{"reserved":-1}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "p.seq.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSeqStore(path, nil)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		entries, err := readSeqFile(path)
		if err != nil {
			t.Fatal(err)
		}
		reserved := map[streamKey]uint64{}
		for _, e := range entries {
			reserved[streamKey{e.Node, e.Stream}] = e.Reserved // the last entry wins in OpenSeqStore
		}
		for k, r := range reserved {
			seq, err := s.Next(k.node, k.stream)
			if r == math.MaxUint64 {
				if err == nil {
					t.Fatalf("stream %v: no error past the last number", k)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if seq <= r {
				t.Fatalf("stream %v: next %d, reserved %d", k, seq, r)
			}
		}
		if _, err := OpenSeqStore(path, nil); err != nil {
			t.Fatalf("the file written does not open again: %v", err)
		}
	})
}
