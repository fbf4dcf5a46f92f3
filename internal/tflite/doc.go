// Package tflite loads TensorFlow Lite models (.tflite flatbuffers) for
// edgeflow's pure-Go interpreter: Load checks a file's structure against its
// length and fixed limits (see MaxTensors and the other Max constants), reads
// it through the flatc-generated accessors of package schema, and returns a
// Model: subgraphs of typed tensors (shape, quantization, constant data as
// slices of the file, not copies) and operators (name, tensor indices, typed
// options of the supported builtins, decoded FlexBuffers options of the custom
// TFLite_Detection_PostProcess). Signature defs and metadata buffers come along.
//
// A truncated, corrupted or hostile file yields an error wrapping ErrMalformed
// or ErrTooLarge that names the place (subgraphs[0].tensors[7].shape), never
// a panic or an allocation far beyond the file's size. Model.CheckSupported
// and Model.UnsupportedOps name the operators the interpreter lacks, so a
// stage can refuse a model when it loads it rather than when it runs it.
package tflite
