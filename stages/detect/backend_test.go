package detect

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
)

// TestBackendField: go is the default and always valid; tflite is valid only
// in a binary built with the C library, and otherwise its error names the
// field and says how to rebuild; any other value names the field.
func TestBackendField(t *testing.T) {
	if got := DefaultConfig().Backend; got != BackendGo {
		t.Fatalf("default backend %q, want %q", got, BackendGo)
	}
	for _, tt := range []struct {
		name, yaml, field string
		want              []string // in the message
	}{
		{"go", "model: m.tflite\nbackend: go", "", nil},
		{"unknown", "model: m.tflite\nbackend: onnx", "backend", []string{`"onnx" unknown`, "go|tflite"}},
		{"tflite", "model: m.tflite\nbackend: tflite", "backend", []string{"-tags tflite", "CGO_ENABLED=1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if err := yaml.Unmarshal([]byte(tt.yaml), cfg); err != nil {
				t.Fatal(err)
			}
			field := tt.field
			if tt.name == "tflite" && newCLibEngine != nil {
				field = "" // this binary has the C library
			}
			err := cfg.Validate()
			if got := stages.FieldOf(err); got != field {
				t.Fatalf("error %v names %q, want %q", err, got, field)
			}
			if field == "" {
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestBackendGoRunsModel: backend: go prepares the Go interpreter, as the
// stage did before the field existed.
func TestBackendGoRunsModel(t *testing.T) {
	d := newDetector(t, "model: "+exampleFile(t, "mnist/mnist_model.tflite")+"\nbackend: go")
	set := d.current.Load()
	r, err := set.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer set.release(r)
	if r.ip.NumInputs() != 1 || r.ip.Input(0) == nil {
		t.Fatalf("engine %T has %d inputs", r.ip, r.ip.NumInputs())
	}
}
