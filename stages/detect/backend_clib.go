//go:build tflite && cgo

package detect

import "github.com/edgeflow/edgeflow/internal/tflite/clib"

// With the build tag tflite and cgo, backend: tflite runs models on
// TensorFlow Lite's C library.
func init() {
	newCLibEngine = func(model []byte, threads int) (engine, error) {
		e, err := clib.NewEngine(model, threads)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}
