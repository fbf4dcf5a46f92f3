// Command benchdetect measures edgeflow's TensorFlow Lite interpreter
// (internal/tflite, the detect stage's engine) on every golden model of
// internal/tflite/testdata/golden and, in the same run, Arm NN 20.08's CpuRef
// back end on the same models and input bytes.
//
// For each model it runs the Go interpreter in a child process of its own
// (so that the peak RSS belongs to that model alone) once with one goroutine
// and once with one per core: wall time per Invoke (median and best), the
// child's CPU time per Invoke, heap allocations and bytes per Invoke, the
// interpreter's activation arena and the child's peak RSS. Then
// armnn_bench.py, beside this file, times the model on Arm NN CpuRef with
// Debian's /usr/bin/python3 (pyarmnn from internal/tools/armnn/golden.sh). It
// prints a Markdown table with the ratio of Arm NN's time to Go's and, with
// -doc, rewrites the "## Detect" section of docs/benchmarks.md. Run it with
// "make bench-detect".
package main
