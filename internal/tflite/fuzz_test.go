package tflite

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeflow/edgeflow/internal/testenv"
)

// go test -fuzz=FuzzLoad ./internal/tflite (or make fuzz). The seeds are the
// synthetic model, real models when the module cache has them, and the
// committed corpus in testdata/fuzz: truncated and bit-flipped real and
// synthetic models (regenerate with -write-corpus).

var writeCorpus = flag.Bool("write-corpus", false, "rewrite testdata/fuzz seeds from the real models")

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallModelPaths are real models small enough for fuzz seeds.
func smallModelPaths(t testing.TB) []string {
	dir := func(v string) string { return testenvModuleDir(t, v) }
	return []string{
		filepath.Join(dir("v1.0.10"), "testdata", "xor_model_sig.tflite"),
		filepath.Join(dir("v1.0.10"), "_example", "iris", "iris.tflite"),
		filepath.Join(dir("v1.0.1"), "testdata", "xor_model.tflite"),
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(fcModel().bytes())
	for _, p := range smallModelPaths(f) {
		f.Add(readFile(f, p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if errors.Is(err, errUnchecked) {
			t.Fatal(err)
		}
		if err == nil {
			checkInvariants(t, m)
			for _, g := range m.Subgraphs {
				for _, tt := range g.Tensors {
					_ = tt.String()
				}
			}
			_ = m.CheckSupported()
		}
	})
}

// detectOptions returns the custom options of SSD MobileNet's
// TFLite_Detection_PostProcess.
func detectOptions(t testing.TB) []byte {
	m, err := LoadFile(filepath.Join(testenvModuleDir(t, "v1.0.1"), "_example", "ssd", "detect.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return m.Main().Operators[63].CustomOptions
}

func FuzzFlexBuffers(f *testing.F) {
	f.Add(detectOptions(f))
	f.Add(encodeFlexMap(map[string]any{"num_classes": 3, "y_scale": 10.0, "use_regular_nms": true}))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := decodeDetectionOptions(data)
		if err == nil && (o.MaxDetections < 1 || o.NumClasses < 1 || o.MaxClassesPerDetection > o.NumClasses) {
			t.Fatalf("accepted %+v", o)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

// TestWriteCorpus rewrites the committed seeds with -write-corpus: truncated
// and bit-flipped versions of the small real models, the synthetic model and
// SSD's detection options.
func TestWriteCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("rewrites testdata/fuzz with -write-corpus")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	write := func(target, name string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mutate := func(target, base string, data []byte) {
		for i, frac := range []int{2, 3, 5, 10} {
			write(target, fmt.Sprintf("%s-cut%d", base, i), data[:len(data)*(frac-1)/frac])
		}
		for i := range 6 {
			b := append([]byte(nil), data...)
			for range 1 + i {
				b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			}
			write(target, fmt.Sprintf("%s-flip%d", base, i), b)
		}
	}
	mutate("FuzzLoad", "synthetic", fcModel().bytes())
	for _, p := range smallModelPaths(t) {
		mutate("FuzzLoad", filepath.Base(filepath.Dir(p))+"-"+filepath.Base(p), readFile(t, p))
	}
	mutate("FuzzFlexBuffers", "ssd-detection-options", detectOptions(t))
}

func testenvModuleDir(t testing.TB, version string) string {
	return testenv.GoModuleDir(t, "github.com/mattn/go-tflite@"+version)
}

// FuzzModelValues builds well-formed flatbuffers with fuzzed values (shapes,
// indices, quantization, detection options) to reach the semantic checks that
// byte-level mutation of a file seldom gets past the structure to.
func FuzzModelValues(f *testing.F) {
	f.Add(int32(1), int32(2), int32(0), int32(3), uint32(1), int32(0), uint8(2), []byte(nil))
	f.Add(int32(1<<16), int32(1<<16), int32(-1), int32(-1), uint32(7), int32(3), uint8(9), encodeFlexMap(map[string]any{"num_classes": 3}))
	f.Fuzz(func(t *testing.T, d0, d1, in0, out0 int32, buf uint32, qdim int32, nscales uint8, custom []byte) {
		s := fcModel()
		s.tensors[3].shape = []int32{d0, d1}
		s.ops[0].inputs[0] = in0
		s.outputs[0] = out0
		s.tensors[1].buffer = buf
		s.tensors[1].scales = make([]float32, nscales)
		s.tensors[1].zps = make([]int64, nscales)
		s.tensors[1].qdim = qdim
		if custom != nil {
			s.codes = append(s.codes, synthCode{deprecated: 32, custom: DetectionPostProcess})
			s.ops = append(s.ops, synthOp{opcode: 1, inputs: []int32{3}, outputs: []int32{3}, custom: custom})
		}
		m, err := Load(s.bytes())
		if errors.Is(err, errUnchecked) {
			t.Fatal(err)
		}
		if err == nil {
			checkInvariants(t, m)
		}
	})
}
