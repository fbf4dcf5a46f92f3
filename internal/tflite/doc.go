// Package tflite loads and runs TensorFlow Lite models (.tflite flatbuffers)
// in pure Go for edgeflow's detect stage.
//
// Load checks a file's structure against its length and fixed limits (see
// MaxTensors and the other Max constants), reads it through the
// flatc-generated accessors of package schema, and returns a Model: subgraphs
// of typed tensors (shape, quantization, constant data as slices of the file,
// not copies) and operators (name, tensor indices, typed options of the
// supported builtins, decoded FlexBuffers options of the custom
// TFLite_Detection_PostProcess). Signature defs and metadata buffers come
// along. A truncated, corrupted or hostile file yields an error wrapping
// ErrMalformed or ErrTooLarge that names the place
// (subgraphs[0].tensors[7].shape), never a panic or an allocation far beyond
// the file's size. Model.CheckSupported and Model.UnsupportedOps name the
// operators the interpreter lacks, so a stage can refuse a model when it
// loads it rather than when it runs it.
//
// NewInterpreter prepares a Model's main subgraph: it checks every operator's
// tensors and options, precomputes what its kernel needs (quantized
// multipliers, activation ranges, padding, requantization tables) and plans
// one arena for the activations, where tensors whose lifetimes do not overlap
// share memory. The caller writes Input(i) (Data or a typed view such as
// UInt8s), calls Invoke(ctx), which runs the operators in order, checks ctx
// between them and allocates nothing, and reads Output(i). Kernels split
// their output rows over a pool of goroutines (WithThreads; default
// GOMAXPROCS). They follow TensorFlow Lite's reference kernels bit for bit:
// float32 and 8-bit quantized (uint8 per-tensor, int8 per-channel) with
// gemmlowp's fixed-point rounding (quant.go), SAME/VALID padding, strides,
// dilation and fused activations, and TFLite_Detection_PostProcess with fast
// or regular non-maximum suppression (detection.go). The tests compare every
// golden model of testdata/golden with TFLite's reference outputs.
//
// On amd64 CPUs with AVX2 (checked at start with golang.org/x/sys/cpu) the
// quantized CONV_2D is an im2col matrix product on a hand-written int16
// micro-kernel (gemm_amd64.s; AVX-512 VNNI's VPDPWSSD where the CPU has it),
// with patches widened in AVX2 (widen_amd64.s); 3x3 DEPTHWISE_CONV_2D windows
// inside the input and the requantization of both run in AVX2 as well
// (depthwise_amd64.s, requant_amd64.s). On arm64 the same four kernels are
// NEON assembly for ARMv8.0-A (the *_arm64.s files: SMLAL, SQRDMULH, SRSHL
// …), with the same interfaces, and the convolution takes UDOT where the CPU
// has ARMv8.2's dot-product instructions. Elsewhere the same arithmetic runs in Go
// (conv_packed.go and the Go loops); the tests run each assembly kernel and
// its Go counterpart on the same inputs, edge values included
// (vector_test.go), and require identical results; make test-arm runs them
// and the golden models on arm64 under qemu. Float kernels round every
// product before adding it, so that arm64's fused multiply-add does not make
// float results differ from amd64's.
package tflite
