// Package model is how edgeflow's federated learning represents a model and
// moves it between the edge and the cloud.
//
// A Model is a Layout (named float32 tensors with shapes, in a fixed order)
// and one contiguous parameter vector holding every tensor back to back, so
// that training and aggregation work on plain []float32 slices. MLPLayout and
// NewMLP describe the multilayer perceptrons edgeflow trains on edge nodes.
//
// An Update is what an edge node sends after local training (a delta from the
// global model, or full weights) and what the cloud broadcasts (full weights):
// round id, node id, example count, metrics and the parameters. AppendUpdate
// writes the compact, versioned wire format described in wire.go, optionally
// quantising the values to float16 or int8 (per-tensor scale, stochastic
// rounding) and compressing the body with zstd; DecodeUpdate reads it back and
// names the field of any malformed input in a FieldError wrapping
// ErrMalformed. ExportTFLite writes a trained MLP as a .tflite flatbuffer that
// edgeflow's own runtime (internal/tflite) loads and runs.
package model
