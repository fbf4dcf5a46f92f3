package frame

import (
	"encoding/json"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndependentDecoder checks that docs/frame-format.md is precise enough to
// write a decoder from: testdata/pydecoder holds one written in Python from the
// document alone, and it must decode frames of every transform and stream kind
// to the same timestamps and value bits as this package.
func TestIndependentDecoder(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the independent decoder cannot run")
	}
	type record struct {
		Frame []byte
		TS    []int64
		Bits  []uint64
	}
	var records []record
	add := func(opts Options, b Block) {
		enc, err := NewEncoder(opts)
		if err != nil {
			t.Fatal(err)
		}
		frame, err := enc.Encode(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		var got Block
		if _, err := NewDecoder().Decode(frame, &got); err != nil {
			t.Fatal(err)
		}
		r := record{Frame: frame, TS: got.Timestamps}
		for _, v := range got.Values {
			r.Bits = append(r.Bits, math.Float64bits(v))
		}
		records = append(records, r)
	}
	for _, b := range fuzzSeedBlocks() {
		add(Options{}, b)
		add(Options{Codec: CodecZlib}, b)
		add(Options{MaxError: 0.01}, b)
		add(Options{MaxError: 0.001, RelativeError: true}, b)
	}
	add(Options{}, Block{Timestamps: seqTimestamps(len(adversarialValues), 0, 1e9), Values: adversarialValues})
	add(Options{}, Block{Timestamps: seqTimestamps(300, 0, 1e9), Values: constant(300, math.Pi)})
	tiny := make([]float64, 300) // subnormals: XOR planes with runs of zero bytes
	for i := range tiny {
		tiny[i] = math.Float64frombits(uint64(i) * 0x9e3779b97f4a7c15 & (1<<40 - 1))
	}
	add(Options{}, Block{Timestamps: seqTimestamps(300, 0, 1e9), Values: tiny})
	add(Options{}, Block{})
	add(Options{}, Block{Timestamps: []int64{5}, Values: []float64{math.NaN()}})
	add(Options{Codec: CodecF32DiffZlib}, fuzzSeedBlocks()[0])
	add(Options{}, exampleBlock)
	add(Options{MaxError: 1e-9}, hourlyBlock(300)) // decimal-lag
	add(Options{MaxError: 2e-3, RelativeError: true}, hourlyBlock(1000))
	if _, err := os.Stat(filepath.Join(testenv.RepoRoot(), "..", "shared", "data", "telosb")); err == nil {
		for _, ds := range loadTelosB(t)[:2] { // humidity and temperature
			add(Options{}, ds.blocks(1000)[0])
		}
	}
	used := map[uint8]bool{}
	for _, r := range records {
		used[r.Frame[6]>>1&7] = true
	}
	for tr := range transformNames {
		if !used[uint8(tr)] {
			t.Errorf("no frame uses transform %d (%s)", tr, transformNames[tr])
		}
	}
	data, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "frames.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "efdec.py", path)
	cmd.Dir = filepath.Join("testdata", "pydecoder")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("independent decoder: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "bad 0") {
		t.Fatalf("independent decoder disagrees:\n%s", out)
	}
	t.Logf("independent decoder: %s", strings.TrimSpace(string(out)))
}
