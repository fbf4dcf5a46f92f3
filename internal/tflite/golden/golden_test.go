package golden

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/testenv"
)

// committedDir is the golden set recorded by internal/tools/armnn/golden.sh.
var committedDir = filepath.Join("..", "testdata", "golden")

func TestLoadCommitted(t *testing.T) {
	cases, err := Load(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	byModel := map[string][]Case{}
	for _, c := range cases {
		byModel[c.ModelName] = append(byModel[c.ModelName], c)
	}
	wantModels := []struct {
		name string
		kind Kind
	}{
		{"mobilenet_quant_v1_224", KindClassification},
		{"mobilenet_v1_0.25_128_quant", KindClassification},
		{"mobilenet_v2_1.0_224_quant", KindClassification},
		{"tf2_mobilenet_v2_1.0_224_ptq", KindClassification},
		{"ssd_detect", KindDetection},
		{"mnist", KindClassification},
		{"iris", KindClassification},
		{"sin", KindRegression},
		{"fizzbuzz", KindClassification},
		{"xor", KindRegression},
	}
	for _, m := range wantModels {
		t.Run(m.name, func(t *testing.T) {
			cs := byModel[m.name]
			if len(cs) == 0 {
				t.Fatalf("no cases for %s in %s", m.name, committedDir)
			}
			var names []string
			for _, c := range cs {
				names = append(names, c.Name)
				checkCase(t, c, m.kind)
			}
			for _, want := range []string{"random1", "random2"} {
				if !slices.Contains(names, want) {
					t.Errorf("no case %s (have %v)", want, names)
				}
			}
		})
	}
}

func checkCase(t *testing.T, c Case, kind Kind) {
	t.Helper()
	if c.Kind != kind {
		t.Errorf("%s: kind %s, want %s", c.ID(), c.Kind, kind)
	}
	if c.Reference.Runtime != "Arm NN" || c.Reference.Backend != "CpuRef" {
		t.Errorf("%s: reference %+v, want Arm NN CpuRef", c.ID(), c.Reference)
	}
	if c.TFLite == nil || c.TFLite.OpResolver != "BUILTIN_REF" {
		t.Errorf("%s: no TFLite reference-kernel outputs beside it (crosscheck.py --write)", c.ID())
	}
	if c.Model.Source.String() == "" || c.Model.File == "" {
		t.Errorf("%s: model %+v names no file", c.ID(), c.Model)
	}
	switch c.Input.Source.Kind {
	case "image":
		if c.Input.Source.ResizeFilter != "PIL.Image.BILINEAR" || c.Input.Source.PILVersion == "" {
			t.Errorf("%s: image input without the resize filter and PIL version: %+v", c.ID(), c.Input.Source)
		}
	case "random":
		if !strings.Contains(c.Input.Source.Generator, "default_rng(") {
			t.Errorf("%s: random input without its seeded generator: %q", c.ID(), c.Input.Source.Generator)
		}
	}
	switch kind {
	case KindClassification:
		if len(c.Top5) == 0 || !slices.Contains(c.Top1Ties, c.Top5[0].Index) {
			t.Errorf("%s: top-1 %v is not among the best scores %v", c.ID(), c.Top5, c.Top1Ties)
		}
	case KindDetection:
		if len(c.Outputs) != 4 || c.DetectionCount > c.Outputs[1].NumElements() {
			t.Errorf("%s: %d outputs and %d detections, want boxes, classes, scores, count", c.ID(), len(c.Outputs), c.DetectionCount)
		}
		for i, d := range c.Detections {
			if float32(d.Class) != c.Outputs[1].Floats[i] || d.Score != c.Outputs[2].Floats[i] {
				t.Errorf("%s: detections[%d] %+v differs from the raw outputs", c.ID(), i, d)
			}
		}
	}
}

// TestModelSHA256 checks that each model file a golden case names is the one
// that was run: same sha256.
func TestModelSHA256(t *testing.T) {
	cases, err := Load(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	checked := map[string]bool{}
	for _, c := range cases {
		key := c.Model.Source.String()
		if checked[key] {
			continue
		}
		checked[key] = true
		t.Run(c.ModelName, func(t *testing.T) {
			shared := ""
			if c.Model.Source.Shared != "" {
				shared = testenv.SharedFile(t, "")
			}
			path, err := c.Model.Source.Locate(ctx, shared)
			if errors.Is(err, ErrModelUnavailable) {
				testenv.Unavailable(t, err.Error())
			}
			if err != nil {
				t.Fatal(err)
			}
			sum, err := FileSHA256(path)
			if err != nil {
				t.Fatal(err)
			}
			if sum != c.Model.SHA256 {
				t.Errorf("%s: sha256 %s, golden cases were recorded from %s", path, sum, c.Model.SHA256)
			}
			if filepath.Base(path) != c.Model.File {
				t.Errorf("%s: file name is not %s", path, c.Model.File)
			}
		})
	}
}

// validCase is a small case file that loads; the error tests below break it.
const validCase = `{
 "model": {"file": "m.tflite", "sha256": "0000000000000000000000000000000000000000000000000000000000000000",
  "source": {"shared": "models/m.tflite"}},
 "reference": {"runtime": "Arm NN", "backend": "CpuRef", "library_version": "22.0.0", "debian_packages": {}},
 "case": "c",
 "kind": "classification",
 "input": {"name": "in", "shape": [1, 2], "dtype": "float32", "quantization": null,
  "file": "c.input.bin", "sha256": "INPUT_SHA",
  "source": {"kind": "fixed", "values": [0.5, 1e-05]}},
 "outputs": [{"name": "out", "shape": [1, 3], "dtype": "uint8",
  "quantization": {"scale": 0.00390625, "zero_point": 0}, "values": [1, 200, 3]}],
 "top5": [{"index": 1, "label": "b", "score": 0.78125, "quantized": 200}],
 "top1_ties": [1]
}`

// inputBytes are float32 0.5 and 1e-05, little-endian.
var inputBytes = []byte{0, 0, 0, 0x3f, 0xac, 0xc5, 0x27, 0x37}

func writeCase(t *testing.T, text string, input []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(inputBytes)
	text = strings.ReplaceAll(text, "INPUT_SHA", hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(dir, "c.json"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if input != nil {
		if err := os.WriteFile(filepath.Join(dir, "c.input.bin"), input, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "c.json")
}

func TestLoadCaseValid(t *testing.T) {
	c, err := LoadCase(writeCase(t, validCase, inputBytes))
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.Input.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in, []float32{0.5, 1e-5}) || !slices.Equal(c.Input.Source.Values, in) {
		t.Errorf("input %v, source values %v, want [0.5 1e-05]", in, c.Input.Source.Values)
	}
	if c.ID() != "m/c" || c.Outputs[0].Ints[1] != 200 || *c.Top5[0].Quantized != 200 {
		t.Errorf("case %s: outputs %+v, top5 %+v", c.ID(), c.Outputs, c.Top5)
	}
	if got := c.Outputs[0].Quantization.Dequantize(200); got != 0.78125 {
		t.Errorf("Dequantize(200) = %v, want 0.78125", got)
	}
}

func TestLoadTFLiteOutputs(t *testing.T) {
	const ref = `{"runtime": "LiteRT", "version": "2.3.0", "op_resolver": "BUILTIN_REF", "case": "c",
 "outputs": [{"name": "out", "shape": [1, 3], "dtype": "uint8",
  "quantization": {"scale": 0.00390625, "zero_point": 0}, "values": [1, 201, 3]}]}`
	tests := []struct {
		name    string
		from    string
		to      string
		wantErr string // "" loads
	}{
		{"valid", "", "", ""},
		{"other dtype", `"dtype": "uint8"`, `"dtype": "int16"`, `outputs[0]: out [1 3] int16 does not match the case's out [1 3] uint8`},
		{"other zero point", `"zero_point": 0`, `"zero_point": 1`, "outputs[0]: out [1 3] uint8 does not match"},
		{"too many values", `[1, 201, 3]`, `[1, 201, 3, 4]`, "outputs[0].values: 4 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeCase(t, validCase, inputBytes)
			text := strings.Replace(ref, tt.from, tt.to, 1)
			refFile := strings.TrimSuffix(file, ".json") + ".tflite_ref.json"
			if err := os.WriteFile(refFile, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadCase(file)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.TFLite == nil || c.TFLite.OpResolver != "BUILTIN_REF" || c.TFLite.Outputs[0].Ints[1] != 201 {
					t.Errorf("TFLite outputs %+v", c.TFLite)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), refFile) {
				t.Errorf("LoadCase: %v\nwant the file name and %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadCaseErrors(t *testing.T) {
	tests := []struct {
		name    string
		from    string // replaced in validCase ...
		to      string // ... by this
		input   []byte // the input file; nil: none
		wantErr string
	}{
		{"syntax error has its line", `"case": "c",`, `"case": "c",,`, inputBytes, "line 5"},
		{"unknown field", `"kind":`, `"knd": 1, "kind":`, inputBytes, `unknown field "knd"`},
		{"case differs from file name", `"case": "c"`, `"case": "d"`, inputBytes, `case: "d", the file name says "c"`},
		{"bad dtype", `"dtype": "uint8"`, `"dtype": "uint7"`, inputBytes, `outputs[0].dtype: "uint7"`},
		{"too few values", `[1, 200, 3]`, `[1, 200]`, inputBytes, "outputs[0].values: 2 values, shape [1 3] has 3"},
		{"value out of range", `[1, 200, 3]`, `[1, 256, 3]`, inputBytes, "outputs[0].values[1]: 256 is outside uint8"},
		{"float in int output", `[1, 200, 3]`, `[1, 2.5, 3]`, inputBytes, "outputs[0].values[1]"},
		{"top5 disagrees", `"quantized": 200`, `"quantized": 199`, inputBytes, "top5[0].quantized: 199 is not outputs[0].values[1]"},
		{"missing input file", "", "", nil, "input.file"},
		{"short input file", "", "", inputBytes[:4], "input.file: c.input.bin has 4 bytes, shape [1 2] of float32 needs 8"},
		{"input sha256 differs", "", "", []byte{1, 0, 0, 0x3f, 0xac, 0xc5, 0x27, 0x37}, "input.sha256"},
		{"bad scale", `"scale": 0.00390625`, `"scale": -1`, inputBytes, "outputs[0].quantization.scale: -1 is not a positive number"},
		{"unknown kind", `"kind": "classification"`, `"kind": "segmentation"`, inputBytes, `kind: "segmentation"`},
		{"no model source", `"source": {"shared": "models/m.tflite"}`, `"source": {}`, inputBytes, "model.source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := validCase
			if tt.from != "" {
				if !strings.Contains(text, tt.from) {
					t.Fatalf("validCase has no %q", tt.from)
				}
				text = strings.Replace(text, tt.from, tt.to, 1)
			}
			file := writeCase(t, text, tt.input)
			_, err := LoadCase(file)
			if err == nil {
				t.Fatalf("LoadCase: no error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), file) {
				t.Errorf("LoadCase: %v\nwant the file name and %q", err, tt.wantErr)
			}
		})
	}
}

func TestLocateSharedMissing(t *testing.T) {
	_, err := ModelSource{Shared: "models/none.tflite"}.Locate(context.Background(), t.TempDir())
	if !errors.Is(err, ErrModelUnavailable) {
		t.Errorf("Locate of a missing shared model: %v, want ErrModelUnavailable", err)
	}
}

// FuzzLoadCase checks that no case file, however malformed, makes LoadCase panic.
func FuzzLoadCase(f *testing.F) {
	f.Add([]byte(validCase), inputBytes)
	f.Add([]byte(strings.Replace(validCase, `"kind": "classification"`, `"kind": "detection", "detection_count": 1, "detections": [{"box": [0, 0, 1], "class": 0, "score": 0.5}]`, 1)), inputBytes)
	f.Add([]byte(`{"outputs": [{"shape": [-1]}]}`), []byte{})
	f.Fuzz(func(t *testing.T, text, input []byte) {
		dir := filepath.Join(t.TempDir(), "m")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(input)
		text = []byte(strings.ReplaceAll(string(text), "INPUT_SHA", hex.EncodeToString(sum[:])))
		if err := os.WriteFile(filepath.Join(dir, "c.json"), text, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "c.input.bin"), input, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCase(filepath.Join(dir, "c.json"))
		if err != nil {
			return
		}
		if len(c.Input.Data) != c.Input.NumElements()*c.Input.DType.Size() {
			t.Errorf("loaded input of %d bytes for shape %v %s", len(c.Input.Data), c.Input.Shape, c.Input.DType)
		}
	})
}

// TestArmNNAgainstTFLite holds the committed goldens to what
// internal/tools/armnn/README.md reports: float outputs of Arm NN and of
// TFLite's reference kernels within 1e-5 relative (measured: equal), quantised
// outputs at most 16 quanta apart. SSD detections are left out: their NMS
// differs by design (see the README).
func TestArmNNAgainstTFLite(t *testing.T) {
	cases, err := Load(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	const maxQuanta = 16
	for _, c := range cases {
		if c.TFLite == nil || c.Kind == KindDetection {
			continue
		}
		for i, want := range c.Outputs {
			got := c.TFLite.Outputs[i]
			for j := range want.Floats {
				a, b := float64(want.Floats[j]), float64(got.Floats[j])
				if math.Abs(a-b) > 1e-5*math.Abs(b) {
					t.Errorf("%s: %s[%d]: Arm NN %v, TFLite %v: more than 1e-5 relative", c.ID(), want.Name, j, a, b)
				}
			}
			for j := range want.Ints {
				if d := want.Ints[j] - got.Ints[j]; d > maxQuanta || d < -maxQuanta {
					t.Errorf("%s: %s[%d]: Arm NN %d, TFLite %d: more than %d quanta", c.ID(), want.Name, j, want.Ints[j], got.Ints[j], maxQuanta)
				}
			}
		}
	}
}
