//go:build tflite && cgo

package clib

import (
	"context"

	"github.com/edgeflow/edgeflow/internal/tflite"
)

// Engine is an Interpreter with the Go interpreter's tensor type: Input and
// Output return *tflite.Tensor (name, type, shape, per-tensor quantisation)
// whose Data are the Interpreter's own buffers, so the typed views
// (UInt8s, Float32s …) and ScaleZeroPoint work as on a *tflite.Interpreter.
// It is how the detect stage's backend: tflite runs a model.
type Engine struct {
	*Interpreter
	inputs, outputs []*tflite.Tensor
}

// NewEngine prepares model on the C library (see NewInterpreter).
func NewEngine(model []byte, threads int) (*Engine, error) {
	ip, err := NewInterpreter(model, threads)
	if err != nil {
		return nil, err
	}
	e := &Engine{Interpreter: ip}
	for _, t := range ip.inputs {
		e.inputs = append(e.inputs, goTensor(t))
	}
	for _, t := range ip.outputs {
		e.outputs = append(e.outputs, goTensor(t))
	}
	return e, nil
}

// goTensor describes t as the Go interpreter does, sharing its Data.
func goTensor(t *Tensor) *tflite.Tensor {
	g := &tflite.Tensor{Name: t.Name, Type: t.Type, Shape: t.Shape, Data: t.Data}
	if t.Quantized {
		g.Quantization = &tflite.Quantization{Scales: []float32{t.Scale}, ZeroPoints: []int64{int64(t.ZeroPoint)}}
	}
	return g
}

// Input returns input i, nil when there is none.
func (e *Engine) Input(i int) *tflite.Tensor {
	if i < 0 || i >= len(e.inputs) {
		return nil
	}
	return e.inputs[i]
}

// Output returns output i, nil when there is none.
func (e *Engine) Output(i int) *tflite.Tensor {
	if i < 0 || i >= len(e.outputs) {
		return nil
	}
	return e.outputs[i]
}

// Invoke runs the model on the inputs' Data and updates the outputs' shapes
// and Data (the C library may resize an output while it runs).
func (e *Engine) Invoke(ctx context.Context) error {
	if err := e.Interpreter.Invoke(ctx); err != nil {
		return err
	}
	for i, t := range e.Interpreter.outputs {
		e.outputs[i].Shape, e.outputs[i].Data = t.Shape, t.Data
	}
	return nil
}
