package tflite

import (
	"fmt"
	"math"
	"unsafe"
)

// prepare builds the kernel of one operator; its tensors already have their
// arena memory.
func (ip *Interpreter) prepare(op *Operator) (kernel, error) {
	switch op.Op {
	case "CONV_2D":
		return ip.prepareConv(op)
	case "DEPTHWISE_CONV_2D":
		return ip.prepareDepthwise(op)
	case "FULLY_CONNECTED":
		return ip.prepareFullyConnected(op)
	case "AVERAGE_POOL_2D", "MAX_POOL_2D":
		return ip.preparePool(op)
	case "ADD", "SUB", "MUL":
		return ip.prepareArithmetic(op)
	case "CONCATENATION":
		return ip.prepareConcat(op)
	case "RESHAPE", "SQUEEZE":
		return ip.prepareCopy(op)
	case "PAD":
		return ip.preparePad(op)
	case "MEAN":
		return ip.prepareMean(op)
	case "SOFTMAX":
		return ip.prepareSoftmax(op)
	case "LOGISTIC", "TANH", "RELU", "RELU6":
		return ip.prepareActivation(op)
	case "QUANTIZE", "DEQUANTIZE":
		return ip.prepareQuantize(op)
	case DetectionPostProcess:
		return ip.prepareDetection(op)
	}
	return nil, fmt.Errorf("no kernel: %w", ErrUnsupportedOps)
}

// inferShape sets the shapes that a model leaves to the interpreter (the
// detection post-processing outputs) and checks that every tensor an
// operator touches has a shape.
func (ip *Interpreter) inferShape(op *Operator) error {
	if op.Op == DetectionPostProcess {
		o, ok := op.Options.(*DetectionPostProcessOptions)
		if !ok || len(op.Outputs) != 4 {
			return fmt.Errorf("want 4 outputs and decoded options: %w", ErrInterpreter)
		}
		n := o.MaxDetections * o.MaxClassesPerDetection
		shapes := [][]int{{1, n, 4}, {1, n}, {1, n}, {1}}
		for i, ti := range op.Outputs {
			if ti < 0 || ti >= len(ip.tensors) {
				return fmt.Errorf("outputs[%d]: tensor %d: %w", i, ti, ErrInterpreter)
			}
			t := &ip.tensors[ti]
			if len(t.Shape) == 0 || t.NumElements() == 0 {
				t.Shape = shapes[i]
			}
			if t.NumElements() != numElements(shapes[i]) || t.Type != Float32 {
				return fmt.Errorf("outputs[%d]: %s, want float32%v: %w", i, t, shapes[i], ErrInterpreter)
			}
		}
	}
	for i, ti := range op.Inputs {
		if ti >= len(ip.tensors) {
			return fmt.Errorf("inputs[%d]: tensor %d out of range: %w", i, ti, ErrInterpreter)
		}
		if ti < 0 {
			continue
		}
		t := &ip.tensors[ti]
		if err := checkShape(t); err != nil {
			return fmt.Errorf("inputs[%d]: %w", i, err)
		}
		if t.Data != nil && len(t.Data) < t.NumElements()*t.Type.Size() {
			return fmt.Errorf("inputs[%d]: %s has %d bytes of data: %w", i, t, len(t.Data), ErrInterpreter)
		}
	}
	for i, ti := range op.Outputs {
		if ti < 0 || ti >= len(ip.tensors) {
			return fmt.Errorf("outputs[%d]: tensor %d out of range: %w", i, ti, ErrInterpreter)
		}
		if ip.tensors[ti].Data != nil {
			return fmt.Errorf("outputs[%d]: %s is a constant: %w", i, ip.tensors[ti].Name, ErrInterpreter)
		}
		if err := checkShape(&ip.tensors[ti]); err != nil {
			return fmt.Errorf("outputs[%d]: %w", i, err)
		}
	}
	return nil
}

// checkShape refuses negative dimensions and tensors of more than
// MaxTensorBytes bytes.
func checkShape(t *Tensor) error {
	n := max(t.Type.Size(), 1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("%s: negative dimension: %w", t, ErrInterpreter)
		}
		if d > 0 && n > MaxTensorBytes/d {
			return fmt.Errorf("%s: more than %d bytes: %w", t, MaxTensorBytes, ErrInterpreter)
		}
		n *= d
	}
	return nil
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// input returns the operator's i-th input tensor, or an error naming it.
func (ip *Interpreter) input(op *Operator, i int) (*Tensor, error) {
	if i >= len(op.Inputs) || op.Inputs[i] < 0 {
		return nil, fmt.Errorf("inputs[%d] missing: %w", i, ErrInterpreter)
	}
	return &ip.tensors[op.Inputs[i]], nil
}

// optionalInput is input, nil for an absent optional tensor.
func (ip *Interpreter) optionalInput(op *Operator, i int) *Tensor {
	if i >= len(op.Inputs) || op.Inputs[i] < 0 {
		return nil
	}
	return &ip.tensors[op.Inputs[i]]
}

func (ip *Interpreter) output(op *Operator, i int) (*Tensor, error) {
	if i >= len(op.Outputs) {
		return nil, fmt.Errorf("outputs[%d] missing: %w", i, ErrInterpreter)
	}
	return &ip.tensors[op.Outputs[i]], nil
}

// errTensor is an ErrInterpreter about a tensor.
func errTensor(role string, t *Tensor, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s: %w", role, t, fmt.Sprintf(format, args...), ErrInterpreter)
}

// wantRank checks a tensor's number of dimensions.
func wantRank(role string, t *Tensor, rank int) error {
	if len(t.Shape) != rank {
		return errTensor(role, t, "want %d dimensions", rank)
	}
	return nil
}

// quantParams returns the per-tensor scale and zero point of a quantized tensor.
func quantParams(role string, t *Tensor) (float32, int32, error) {
	s, zp, ok := t.ScaleZeroPoint()
	if !ok || !(s > 0) || math.IsInf(float64(s), 0) {
		return 0, 0, errTensor(role, t, "want per-tensor quantization with a positive scale")
	}
	return s, zp, nil
}

// typeRange is the range of a quantized type's values.
func typeRange(t TensorType) (int32, int32) {
	switch t {
	case Uint8:
		return 0, 255
	case Int8:
		return -128, 127
	case Int16:
		return math.MinInt16, math.MaxInt16
	}
	return math.MinInt32, math.MaxInt32
}

// quantizedActivationRange is TFLite's CalculateActivationRangeQuantized.
func quantizedActivationRange(a Activation, out *Tensor) (int32, int32, error) {
	lo, hi := typeRange(out.Type)
	scale, zp, err := quantParams("output", out)
	if err != nil {
		return 0, 0, err
	}
	quantize := func(f float32) int32 { return zp + int32(roundHalfAway32(f/scale)) }
	switch a {
	case ActNone:
	case ActRelu:
		lo = max(lo, quantize(0))
	case ActRelu6:
		lo, hi = max(lo, quantize(0)), min(hi, quantize(6))
	case ActReluN1To1:
		lo, hi = max(lo, quantize(-1)), min(hi, quantize(1))
	default:
		return 0, 0, fmt.Errorf("fused activation %s: %w", a, ErrInterpreter)
	}
	return lo, hi, nil
}

// floatActivationRange is TFLite's CalculateActivationRange for float.
func floatActivationRange(a Activation) (float32, float32, error) {
	switch a {
	case ActNone:
		return -math.MaxFloat32, math.MaxFloat32, nil
	case ActRelu:
		return 0, math.MaxFloat32, nil
	case ActRelu6:
		return 0, 6, nil
	case ActReluN1To1:
		return -1, 1, nil
	}
	return 0, 0, fmt.Errorf("fused activation %s: %w", a, ErrInterpreter)
}

func clampF(x, lo, hi float32) float32 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// quantized is the element type of 8-bit quantized tensors.
type quantized interface{ ~uint8 | ~int8 }

// elems is a typed view of an 8-bit tensor's data.
func elems[T quantized](t *Tensor) []T {
	n := t.NumElements()
	if n == 0 || len(t.Data) < n {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
}

// floats is a view of a float32 tensor's data; the interpreter's tensors are aligned.
func floats(role string, t *Tensor) ([]float32, error) {
	if t.Type != Float32 {
		return nil, errTensor(role, t, "want float32")
	}
	f := t.Float32s()
	if f == nil && t.NumElements() > 0 {
		return nil, errTensor(role, t, "no data")
	}
	return f, nil
}

// sameShape reports whether two shapes are equal.
func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// computePadding is TFLite's ComputePaddingHeightWidth for one dimension:
// the output size and the padding before the first element.
func computePadding(p Padding, stride, dilation, in, filter int) (out, before int, err error) {
	if stride < 1 || dilation < 1 || filter < 1 {
		return 0, 0, fmt.Errorf("stride %d, dilation %d, filter %d: %w", stride, dilation, filter, ErrInterpreter)
	}
	effective := (filter-1)*dilation + 1
	switch p {
	case PaddingSame:
		out = (in + stride - 1) / stride
	case PaddingValid:
		out = (in + stride - effective) / stride
	default:
		return 0, 0, fmt.Errorf("padding %s: %w", p, ErrInterpreter)
	}
	total := max((out-1)*stride+effective-in, 0)
	return out, total / 2, nil
}
