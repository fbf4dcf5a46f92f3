package detect

import (
	"context"
	"fmt"

	"github.com/edgeflow/edgeflow/internal/tflite"
	"github.com/edgeflow/edgeflow/stages"
)

// Back ends: what runs the model.
const (
	// BackendGo is edgeflow's pure-Go interpreter (internal/tflite): no cgo,
	// nothing installed on the node, TensorFlow Lite's reference kernels bit
	// for bit.
	BackendGo = "go"
	// BackendTFLite is TensorFlow Lite's own C library
	// (libtensorflowlite_c, internal/tflite/clib). It is compiled in only
	// by go build -tags tflite with cgo enabled.
	BackendTFLite = "tflite"
)

// engine is what the detect stage asks of an interpreter: one prepared
// model whose input tensors it writes (typed views of Input(i).Data), runs
// with Invoke and whose outputs it reads. *tflite.Interpreter is one; the C
// library's interpreter is adapted to it (clib.Engine). An engine is used by
// one message at a time.
type engine interface {
	NumInputs() int
	NumOutputs() int
	Input(i int) *tflite.Tensor
	Output(i int) *tflite.Tensor
	Invoke(ctx context.Context) error
	Close()
}

// newCLibEngine prepares a model on TensorFlow Lite's C library; nil unless
// the binary was built with the build tag tflite and cgo (backend_clib.go).
var newCLibEngine func(model []byte, threads int) (engine, error)

// validateBackend checks the backend field against what this binary has.
func validateBackend(backend string) error {
	switch backend {
	case BackendGo, "": // "": a Config made without DefaultConfig
		return nil
	case BackendTFLite:
		if newCLibEngine == nil {
			return stages.FieldErrorf("backend", "backend %q (TensorFlow Lite's C library) is not compiled into this binary: "+
				"rebuild with cgo and libtensorflowlite_c installed: CGO_ENABLED=1 go build -tags tflite ./cmd/edgeflow "+
				"(docs/detect.md), or use backend %q", backend, BackendGo)
		}
		return nil
	}
	return stages.FieldErrorf("backend", "backend %q unknown (want %s|%s)", backend, BackendGo, BackendTFLite)
}

// engineMaker checks the model in data once for cfg's back end and returns
// the function that prepares one engine for it. The Go back end refuses a
// model with operators the interpreter lacks here, when the pipeline
// starts; the C library checks the model when it prepares it.
func engineMaker(cfg *Config, data []byte) (func() (engine, error), error) {
	switch cfg.Backend {
	case BackendGo, "":
		m, err := tflite.Load(data)
		if err != nil {
			return nil, err
		}
		if err := m.CheckSupported(); err != nil {
			return nil, err
		}
		return func() (engine, error) {
			return tflite.NewInterpreter(m, tflite.WithThreads(cfg.Threads))
		}, nil
	case BackendTFLite:
		if newCLibEngine == nil {
			return nil, validateBackend(cfg.Backend)
		}
		return func() (engine, error) { return newCLibEngine(data, cfg.Threads) }, nil
	}
	return nil, fmt.Errorf("backend %q unknown", cfg.Backend)
}

var _ engine = (*tflite.Interpreter)(nil)
