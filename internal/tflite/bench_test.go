package tflite

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// go test -run '^$' -bench Load -benchmem ./internal/tflite
func BenchmarkLoad(b *testing.B) {
	for _, tc := range []struct {
		name string
		path func(t testing.TB) string
	}{
		{"ssd_mobilenet_v1_quant", goTFLiteModel("v1.0.1", "_example/ssd/detect.tflite")},
		{"coral_tf2_mobilenet_v2_ptq", coralModel("tf2_mobilenet_v2_1.0_224_ptq.tflite")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := readFile(b, tc.path(b))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHostileModelAllocation: a small file whose tensors vector repeats one
// table with a long name must be refused without allocating much more than
// the budget (twice the file plus 16 MiB).
func TestHostileModelAllocation(t *testing.T) {
	s := fcModel()
	s.tensors[0].name = strings.Repeat("n", 60_000)
	s.repeatTensors = 50_000 // passes the tensor count; the names exhaust the budget
	s.ops, s.inputs, s.outputs, s.sigs = nil, nil, nil, nil
	data := s.bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Load(data)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), ".name") {
		t.Fatalf("error %v, want ErrTooLarge at a tensor name", err)
	}
	// Without the budget: 50k copies of the name, 3 GB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*uint64(len(data))+32<<20 {
		t.Errorf("allocated %d bytes for a %d-byte file", alloc, len(data))
	}
}
