// Package schema is the Go code that flatc (Debian's flatbuffers-compiler)
// generates from TensorFlow Lite's flatbuffer schema, schema.fbs: the TF 1.15
// schema from Debian's armnn source package plus the newer upstream fields in
// extensions.patch (see the header of schema.fbs). The accessors trust their
// input; package tflite checks a file's structure before it reads it through
// them. Do not edit the generated files: change extensions.patch and run
// internal/tools/tflite-schema.sh (go generate).
package schema

//go:generate bash ../../tools/tflite-schema.sh
