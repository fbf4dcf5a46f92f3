// Package clib runs TensorFlow Lite models with TensorFlow Lite's own C
// library (libtensorflowlite_c, through github.com/mattn/go-tflite) instead of
// edgeflow's pure-Go interpreter (internal/tflite). It is an optional back end
// for comparing the two and for operators the Go interpreter lacks; it is
// compiled only with the build tag tflite and cgo enabled
// (go build -tags tflite), so default builds need neither cgo nor the C
// library. Without the tag this package holds only this documentation.
//
// Its Interpreter has the Go interpreter's shape: NewInterpreter prepares a
// model for Invoke; the caller writes Input(i).Data, calls Invoke(ctx) and
// reads Output(i).Data, raw little-endian bytes of each tensor's type
// (tflite.TensorType), with the same names, shapes and quantisation. Inputs
// are copied into the C library's tensors before each Invoke and outputs
// copied back after it, so no Go slice ever points into C memory. The golden
// tests (internal/tflite/testdata/golden) run on it with
// "make test-tflite-cgo"; docs/detect.md says how to install the C library.
package clib
