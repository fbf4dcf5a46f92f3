//go:build tflite && cgo

package clib

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	gotflite "github.com/mattn/go-tflite"

	"github.com/edgeflow/edgeflow/internal/tflite"
)

// ErrCLibrary wraps every failure the C library reports: a model it cannot
// parse, tensors it cannot allocate, an Invoke that fails.
var ErrCLibrary = errors.New("tensorflow lite C library")

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("clib: interpreter closed")

// Tensor is an input or output of the model, with Go-owned bytes.
type Tensor struct {
	Name      string
	Type      tflite.TensorType
	Shape     []int
	Scale     float32 // quantisation, when Quantized
	ZeroPoint int32
	Quantized bool
	// Data holds the tensor's bytes: written by the caller for inputs and
	// copied in by Invoke; copied out by Invoke for outputs.
	Data []byte

	c *gotflite.Tensor
}

// NumElements is the product of the dimensions (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

func (t *Tensor) String() string { return fmt.Sprintf("%s %s%v", t.Name, t.Type, t.Shape) }

// Interpreter runs one model on the C library. It is not safe for concurrent
// use; make one per goroutine as with tflite.Interpreter.
type Interpreter struct {
	model   *gotflite.Model
	options *gotflite.InterpreterOptions
	ip      *gotflite.Interpreter
	inputs  []*Tensor
	outputs []*Tensor

	mu     sync.Mutex // guards closed against a cancelling context
	closed bool
}

// Version is the C library's version string.
func Version() string { return gotflite.Version() }

// NewInterpreter parses the model's bytes and allocates its tensors, with
// threads worker threads in the C library (threads < 1: one per CPU).
func NewInterpreter(model []byte, threads int) (*Interpreter, error) {
	if len(model) == 0 {
		return nil, fmt.Errorf("clib: empty model: %w", ErrCLibrary)
	}
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	var reported []string
	report := func(msg string, _ interface{}) { reported = append(reported, msg) }
	ip := &Interpreter{}
	ip.model = gotflite.NewModelWithErrorReporter(model, report, nil)
	if ip.model == nil {
		return nil, fmt.Errorf("clib: model: %w: %v", ErrCLibrary, reported)
	}
	ip.options = gotflite.NewInterpreterOptions()
	ip.options.SetNumThread(threads)
	ip.options.SetErrorReporter(report, nil)
	ip.options.EnableCancellation(true)
	ip.ip = gotflite.NewInterpreter(ip.model, ip.options)
	if ip.ip == nil {
		ip.Close()
		return nil, fmt.Errorf("clib: interpreter: %w: %v", ErrCLibrary, reported)
	}
	if st := ip.ip.AllocateTensors(); st != gotflite.OK {
		ip.Close()
		return nil, fmt.Errorf("clib: allocating tensors: %w: %v", ErrCLibrary, reported)
	}
	for i := range ip.ip.GetInputTensorCount() {
		t, err := wrap(ip.ip.GetInputTensor(i), "inputs", i)
		if err != nil {
			ip.Close()
			return nil, err
		}
		ip.inputs = append(ip.inputs, t)
	}
	for i := range ip.ip.GetOutputTensorCount() {
		t, err := wrap(ip.ip.GetOutputTensor(i), "outputs", i)
		if err != nil {
			ip.Close()
			return nil, err
		}
		ip.outputs = append(ip.outputs, t)
	}
	return ip, nil
}

// wrap describes a C tensor and gives it a Go buffer of its size.
func wrap(c *gotflite.Tensor, field string, i int) (*Tensor, error) {
	if c == nil {
		return nil, fmt.Errorf("clib: %s[%d]: no tensor: %w", field, i, ErrCLibrary)
	}
	typ, ok := tensorType(c.Type())
	if !ok {
		return nil, fmt.Errorf("clib: %s[%d] (%s): type %v has no edgeflow counterpart: %w", field, i, c.Name(), c.Type(), ErrCLibrary)
	}
	t := &Tensor{Name: c.Name(), Type: typ, c: c}
	t.refresh()
	if q := c.QuantizationParams(); q.Scale != 0 {
		t.Scale, t.ZeroPoint, t.Quantized = float32(q.Scale), int32(q.ZeroPoint), true
	}
	return t, nil
}

// refresh reads the shape again (outputs may change it during Invoke) and
// sizes Data to the C tensor's bytes.
func (t *Tensor) refresh() {
	t.Shape = t.c.Shape()
	if n := int(t.c.ByteSize()); cap(t.Data) >= n {
		t.Data = t.Data[:n]
	} else {
		t.Data = make([]byte, n)
	}
}

// tensorType maps the C library's TfLiteType to edgeflow's TensorType (which
// follows the schema's numbering: the two differ for float32).
func tensorType(t gotflite.TensorType) (tflite.TensorType, bool) {
	switch t {
	case gotflite.Float32:
		return tflite.Float32, true
	case gotflite.Int32:
		return tflite.Int32, true
	case gotflite.UInt8:
		return tflite.Uint8, true
	case gotflite.Int64:
		return tflite.Int64, true
	case gotflite.Bool:
		return tflite.Bool, true
	case gotflite.Int16:
		return tflite.Int16, true
	case gotflite.Int8:
		return tflite.Int8, true
	}
	return 0, false
}

// NumInputs is the number of model inputs.
func (ip *Interpreter) NumInputs() int { return len(ip.inputs) }

// NumOutputs is the number of model outputs.
func (ip *Interpreter) NumOutputs() int { return len(ip.outputs) }

// Input returns input i, nil when there is none.
func (ip *Interpreter) Input(i int) *Tensor {
	if i < 0 || i >= len(ip.inputs) {
		return nil
	}
	return ip.inputs[i]
}

// Output returns output i, nil when there is none.
func (ip *Interpreter) Output(i int) *Tensor {
	if i < 0 || i >= len(ip.outputs) {
		return nil
	}
	return ip.outputs[i]
}

// Invoke copies the inputs' Data into the C library, runs the model and
// copies the outputs back. A context cancelled while the model runs cancels
// it in the C library (TfLiteInterpreterCancel).
func (ip *Interpreter) Invoke(ctx context.Context) error {
	ip.mu.Lock()
	closed := ip.closed
	ip.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("clib: before Invoke: %w", err)
	}
	for i, t := range ip.inputs {
		if len(t.Data) != int(t.c.ByteSize()) {
			return fmt.Errorf("clib: inputs[%d] (%s): %d bytes, the tensor has %d", i, t, len(t.Data), t.c.ByteSize())
		}
		if len(t.Data) > 0 && t.c.CopyFromBuffer(t.Data) != gotflite.OK {
			return fmt.Errorf("clib: inputs[%d] (%s): copy: %w", i, t, ErrCLibrary)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		ip.mu.Lock()
		defer ip.mu.Unlock()
		if !ip.closed {
			ip.ip.Cancel()
		}
	})
	st := ip.ip.Invoke()
	stop()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("clib: Invoke: %w", err)
	}
	if st != gotflite.OK {
		return fmt.Errorf("clib: Invoke: %w (status %d)", ErrCLibrary, st)
	}
	for i, t := range ip.outputs {
		t.refresh()
		if len(t.Data) > 0 && t.c.CopyToBuffer(t.Data) != gotflite.OK {
			return fmt.Errorf("clib: outputs[%d] (%s): copy: %w", i, t, ErrCLibrary)
		}
	}
	return nil
}

// Close frees the C library's interpreter, options and model. It is
// idempotent.
func (ip *Interpreter) Close() {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return
	}
	ip.closed = true
	if ip.ip != nil {
		ip.ip.Delete()
	}
	if ip.options != nil {
		ip.options.Delete()
	}
	if ip.model != nil {
		ip.model.Delete()
	}
}
