package tflite

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

// TestAgainstFlatc compares every tensor and operator Load returns with the
// JSON that flatc (Debian's flatbuffers-compiler, an independent reader of
// the same schema) prints for the same file. Skipped when flatc is missing:
// bash internal/tools/tflite-schema.sh installs it.
func TestAgainstFlatc(t *testing.T) {
	flatc, err := exec.LookPath("flatc")
	if err != nil {
		t.Skip("flatc not installed (bash internal/tools/tflite-schema.sh installs Debian's flatbuffers-compiler)")
	}
	for _, tc := range []struct {
		name string
		path func(t testing.TB) string
	}{
		{"xor_with_signature", goTFLiteModel("v1.0.10", "testdata/xor_model_sig.tflite")},
		{"iris", goTFLiteModel("v1.0.10", "_example/iris/iris.tflite")},
		{"sin", goTFLiteModel("v1.0.10", "_example/sin/sin_model.tflite")},
		{"fizzbuzz", goTFLiteModel("v1.0.10", "_example/fizzbuzz/fizzbuzz_model.tflite")},
		{"coral_mobilenet_v1_0.25_128_quant", coralModel("mobilenet_v1_0.25_128_quant.tflite")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			dir := t.TempDir()
			cmd := exec.Command(flatc, "-t", "--strict-json", "--raw-binary", "-o", dir, filepath.Join("schema", "schema.fbs"), "--", path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("flatc: %v\n%s", err, out)
			}
			raw, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".tflite")+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want flatcModel
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			m, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			compareFlatc(t, m, &want)
		})
	}
}

type flatcModel struct {
	OperatorCodes []struct {
		Deprecated int    `json:"deprecated_builtin_code"`
		Builtin    string `json:"builtin_code"`
		Custom     string `json:"custom_code"`
	} `json:"operator_codes"`
	Subgraphs []struct {
		Tensors []struct {
			Name           string `json:"name"`
			Type           string `json:"type"`
			Shape          []int  `json:"shape"`
			ShapeSignature []int  `json:"shape_signature"`
			Buffer         int    `json:"buffer"`
			Quantization   struct {
				Scale     []float64 `json:"scale"`
				ZeroPoint []int64   `json:"zero_point"`
				Dimension int       `json:"quantized_dimension"`
			} `json:"quantization"`
		} `json:"tensors"`
		Operators []struct {
			Opcode  int   `json:"opcode_index"`
			Inputs  []int `json:"inputs"`
			Outputs []int `json:"outputs"`
		} `json:"operators"`
		Inputs  []int `json:"inputs"`
		Outputs []int `json:"outputs"`
	} `json:"subgraphs"`
	Buffers []struct {
		Data []int `json:"data"` // flatc prints bytes as numbers
	} `json:"buffers"`
}

func compareFlatc(t *testing.T, m *Model, want *flatcModel) {
	t.Helper()
	opName := func(i int) string {
		c := want.OperatorCodes[i]
		if c.Custom != "" {
			return c.Custom
		}
		code := schema.EnumValuesBuiltinOperator[c.Builtin] // "" (absent) is ADD = 0
		return schema.EnumNamesBuiltinOperator[max(code, schema.BuiltinOperator(c.Deprecated))]
	}
	if len(m.Subgraphs) != len(want.Subgraphs) {
		t.Fatalf("%d subgraphs, flatc %d", len(m.Subgraphs), len(want.Subgraphs))
	}
	for gi, wg := range want.Subgraphs {
		g := &m.Subgraphs[gi]
		if !sameInts(g.Inputs, wg.Inputs) || !sameInts(g.Outputs, wg.Outputs) || len(g.Tensors) != len(wg.Tensors) || len(g.Operators) != len(wg.Operators) {
			t.Fatalf("subgraph %d: inputs %v outputs %v, %d tensors, %d operators; flatc %v %v %d %d", gi,
				g.Inputs, g.Outputs, len(g.Tensors), len(g.Operators), wg.Inputs, wg.Outputs, len(wg.Tensors), len(wg.Operators))
		}
		for i, wt := range wg.Tensors {
			tt := &g.Tensors[i]
			typ := wt.Type
			if typ == "" {
				typ = "FLOAT32"
			}
			if tt.Name != wt.Name || tt.Type.String() != strings.ToLower(typ) || !sameInts(tt.Shape, wt.Shape) || !sameInts(tt.ShapeSignature, wt.ShapeSignature) {
				t.Errorf("tensor %d: %q %s %v %v; flatc %q %s %v %v", i, tt.Name, tt.Type, tt.Shape, tt.ShapeSignature, wt.Name, typ, wt.Shape, wt.ShapeSignature)
			}
			if n := len(want.Buffers[wt.Buffer].Data); len(tt.Data) != n {
				t.Errorf("tensor %d (%s): %d bytes of data, flatc %d", i, tt.Name, len(tt.Data), n)
			}
			wq := wt.Quantization
			if q := tt.Quantization; q == nil {
				if len(wq.Scale) != 0 {
					t.Errorf("tensor %d (%s): no quantization, flatc %v", i, tt.Name, wq.Scale)
				}
			} else {
				ok := len(q.Scales) == len(wq.Scale) && reflect.DeepEqual(q.ZeroPoints, wq.ZeroPoint) && (len(q.Scales) == 1 || q.Dimension == wq.Dimension)
				for j := 0; ok && j < len(q.Scales); j++ {
					// flatc prints 6 decimals.
					ok = math.Abs(float64(q.Scales[j])-wq.Scale[j]) <= 5e-7+1e-6*wq.Scale[j]
				}
				if !ok {
					t.Errorf("tensor %d (%s): quantization %+v, flatc %+v", i, tt.Name, q, wq)
				}
			}
		}
		for i, wo := range wg.Operators {
			op := &g.Operators[i]
			if op.Op != opName(wo.Opcode) || !sameInts(op.Inputs, wo.Inputs) || !sameInts(op.Outputs, wo.Outputs) {
				t.Errorf("operator %d: %s %v -> %v; flatc %s %v -> %v", i, op.Op, op.Inputs, op.Outputs, opName(wo.Opcode), wo.Inputs, wo.Outputs)
			}
		}
	}
}

// sameInts compares two int slices, nil equal to empty.
func sameInts(a, b []int) bool {
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
