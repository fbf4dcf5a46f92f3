// Package tflite is a type-only stand-in for github.com/mattn/go-tflite
// v1.0.10: the exported names edgeflow's clib uses, with the same
// signatures (copied from tflite.go) and no cgo. internal/tflite/clib/typecheck/vet.sh
// puts it in place of the real module (a go.mod replace in a copy of
// edgeflow's go.mod) to type-check the build tag tflite without the C
// library.
package tflite
