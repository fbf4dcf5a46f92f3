// Package golden reads the reference outputs that edgeflow's TensorFlow Lite
// interpreter is tested against. They were recorded from an independent runtime,
// Debian's Arm NN 20.08 on its CpuRef back end, by internal/tools/armnn/golden.sh,
// into internal/tflite/testdata/golden/<model>/: for each input case a
// <case>.input.bin with the exact input tensor bytes and a <case>.json with the
// model file and its sha256, the input tensor's name, shape, dtype, quantisation
// and how it was made (image preprocessing or seeded random draw), every output
// tensor's raw values, and the top-5 classes or the post-processed detections.
//
// Beside a case, <case>.tflite_ref.json (written by the same tool's
// crosscheck.py) holds TensorFlow Lite's own reference-kernel outputs for the
// same input; where Arm NN's quantised rounding differs from TFLite's, those are
// the values an interpreter that follows TFLite reproduces (see
// internal/tools/armnn/README.md for the measured differences).
//
// Load reads a whole golden directory into typed Cases, checking on the way that
// each input file has the recorded size and sha256 and each output the number of
// values its shape says; float values are read as float32 exactly as written.
// ModelSource.Locate finds the model file a case names (in ../shared or in a Go
// module such as github.com/mattn/go-tflite) so a test can check its sha256 and
// run it.
package golden
