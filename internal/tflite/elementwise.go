package tflite

import (
	"fmt"
	"math"
)

// Element-wise operators: ADD, SUB, MUL (with broadcasting), RELU, RELU6,
// LOGISTIC, TANH, QUANTIZE and DEQUANTIZE, following TFLite's reference
// kernels. Quantized ADD and SUB scale both inputs to a common scale with 20
// bits of headroom (left_shift = 20), as add.cc and sub.cc prepare them;
// quantized LOGISTIC and TANH use a 256-entry table built in float32 as
// activations.cc's PopulateLookupTable.

// broadcastIndex returns, for each element of the output shape, the index of
// the element of a shape broadcast to it; nil when the shapes are equal.
func broadcastIndex(in, out []int) ([]int32, error) {
	if sameShape(in, out) {
		return nil, nil
	}
	if len(in) > len(out) {
		return nil, fmt.Errorf("shape %v does not broadcast to %v: %w", in, out, ErrInterpreter)
	}
	ext := make([]int, len(out))
	for i := range ext {
		ext[i] = 1
	}
	copy(ext[len(out)-len(in):], in)
	strides := make([]int, len(out))
	s := 1
	for i := len(out) - 1; i >= 0; i-- {
		if ext[i] != 1 && ext[i] != out[i] {
			return nil, fmt.Errorf("shape %v does not broadcast to %v: %w", in, out, ErrInterpreter)
		}
		if ext[i] != 1 {
			strides[i] = s
		}
		s *= ext[i]
	}
	n := numElements(out)
	idx := make([]int32, n)
	coord := make([]int, len(out))
	for i := range n {
		off := 0
		for d, c := range coord {
			off += c * strides[d]
		}
		idx[i] = int32(off)
		for d := len(out) - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return idx, nil
}

type arithmeticFloat struct {
	op         string
	a, b, out  []float32
	aIdx, bIdx []int32
	lo, hi     float32
}

func (k *arithmeticFloat) eval() error {
	for i := range k.out {
		ai, bi := i, i
		if k.aIdx != nil {
			ai = int(k.aIdx[i])
		}
		if k.bIdx != nil {
			bi = int(k.bIdx[i])
		}
		var v float32
		switch k.op {
		case "ADD":
			v = k.a[ai] + k.b[bi]
		case "SUB":
			v = k.a[ai] - k.b[bi]
		default:
			v = k.a[ai] * k.b[bi]
		}
		k.out[i] = clampF(v, k.lo, k.hi)
	}
	return nil
}

// arithmeticQuant is quantized ADD, SUB (inputs rescaled to twice the larger
// input scale, shifted left 20 bits) or MUL (product of the offset inputs
// times in1·in2/out scale).
type arithmeticQuant[T quantized] struct {
	op                 string
	a, b, out          []T
	aIdx, bIdx         []int32
	aOff, bOff, outZP  int32
	leftShift          int
	aMult, bMult, mult multiplier
	lo, hi             int32
}

func (ip *Interpreter) prepareArithmetic(op *Operator) (kernel, error) {
	o, _ := op.Options.(*ArithmeticOptions)
	act := ActNone
	if o != nil {
		act = o.Activation
	}
	a, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	b, err := ip.input(op, 1)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if a.Type != out.Type || b.Type != out.Type {
		return nil, errTensor("output", out, "want inputs of its type")
	}
	aIdx, err := broadcastIndex(a.Shape, out.Shape)
	if err != nil {
		return nil, err
	}
	bIdx, err := broadcastIndex(b.Shape, out.Shape)
	if err != nil {
		return nil, err
	}
	switch out.Type {
	case Float32:
		k := &arithmeticFloat{op: op.Op, aIdx: aIdx, bIdx: bIdx}
		if k.a, err = floats("inputs[0]", a); err != nil {
			return nil, err
		}
		if k.b, err = floats("inputs[1]", b); err != nil {
			return nil, err
		}
		if k.out, err = floats("output", out); err != nil {
			return nil, err
		}
		if k.lo, k.hi, err = floatActivationRange(act); err != nil {
			return nil, err
		}
		return k, nil
	case Uint8:
		return newArithmeticQuant[uint8](op.Op, a, b, out, aIdx, bIdx, act)
	case Int8:
		return newArithmeticQuant[int8](op.Op, a, b, out, aIdx, bIdx, act)
	}
	return nil, errTensor("output", out, "type not supported")
}

func newArithmeticQuant[T quantized](op string, a, b, out *Tensor, aIdx, bIdx []int32, act Activation) (kernel, error) {
	aScale, aZP, err := quantParams("inputs[0]", a)
	if err != nil {
		return nil, err
	}
	bScale, bZP, err := quantParams("inputs[1]", b)
	if err != nil {
		return nil, err
	}
	outScale, outZP, err := quantParams("output", out)
	if err != nil {
		return nil, err
	}
	k := &arithmeticQuant[T]{op: op, a: elems[T](a), b: elems[T](b), out: elems[T](out), aIdx: aIdx, bIdx: bIdx,
		aOff: -aZP, bOff: -bZP, outZP: outZP}
	if op == "MUL" {
		k.mult = newMultiplier(float64(aScale * bScale / outScale))
	} else {
		k.leftShift = 20
		twiceMax := float64(2 * max(aScale, bScale))
		k.aMult = newMultiplier(float64(aScale) / twiceMax)
		k.bMult = newMultiplier(float64(bScale) / twiceMax)
		k.mult = newMultiplier(twiceMax / (float64(int(1)<<k.leftShift) * float64(outScale)))
	}
	if k.lo, k.hi, err = quantizedActivationRange(act, out); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *arithmeticQuant[T]) eval() error {
	for i := range k.out {
		ai, bi := i, i
		if k.aIdx != nil {
			ai = int(k.aIdx[i])
		}
		if k.bIdx != nil {
			bi = int(k.bIdx[i])
		}
		x := int32(k.a[ai]) + k.aOff
		y := int32(k.b[bi]) + k.bOff
		var raw int32
		switch k.op {
		case "MUL":
			raw = k.mult.apply(x * y)
		default:
			sx := k.aMult.apply(x * (1 << k.leftShift))
			sy := k.bMult.apply(y * (1 << k.leftShift))
			if k.op == "SUB" {
				sy = -sy
			}
			raw = k.mult.apply(sx + sy)
		}
		k.out[i] = T(clamp32(raw+k.outZP, k.lo, k.hi))
	}
	return nil
}

// activationFloat is RELU, RELU6, LOGISTIC or TANH on float32.
type activationFloat struct {
	op      string
	in, out []float32
}

func (k *activationFloat) eval() error {
	for i, x := range k.in {
		switch k.op {
		case "RELU":
			k.out[i] = max(x, 0)
		case "RELU6":
			k.out[i] = min(max(x, 0), 6)
		case "LOGISTIC":
			k.out[i] = logistic(x)
		default:
			k.out[i] = float32(math.Tanh(float64(x)))
		}
	}
	return nil
}

// logistic is reference_ops::Logistic for float.
func logistic(x float32) float32 {
	const upper, lower = 16.619047164916992188, -9
	switch {
	case x > upper:
		return 1
	case x < lower:
		return float32(math.Exp(float64(x)))
	}
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// lookup maps each 8-bit input value through a table.
type lookup[T quantized] struct {
	in, out []T
	table   [256]T
}

func (k *lookup[T]) eval() error {
	for i, x := range k.in {
		k.out[i] = k.table[uint8(x)]
	}
	return nil
}

func (ip *Interpreter) prepareActivation(op *Operator) (kernel, error) {
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if in.Type != out.Type || in.NumElements() != out.NumElements() {
		return nil, errTensor("output", out, "want the input's type and size")
	}
	switch in.Type {
	case Float32:
		k := &activationFloat{op: op.Op}
		if k.in, err = floats("input", in); err != nil {
			return nil, err
		}
		if k.out, err = floats("output", out); err != nil {
			return nil, err
		}
		return k, nil
	case Uint8:
		return newLookup[uint8](op.Op, in, out)
	case Int8:
		return newLookup[int8](op.Op, in, out)
	}
	return nil, errTensor("input", in, "type not supported")
}

func newLookup[T quantized](op string, in, out *Tensor) (kernel, error) {
	inScale, inZP, err := quantParams("input", in)
	if err != nil {
		return nil, err
	}
	outScale, outZP, err := quantParams("output", out)
	if err != nil {
		return nil, err
	}
	k := &lookup[T]{in: elems[T](in), out: elems[T](out)}
	lo, hi := typeRange(out.Type)
	switch op {
	case "LOGISTIC", "TANH":
		f := func(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
		if op == "TANH" {
			f = func(x float32) float32 { return float32(math.Tanh(float64(x))) }
		}
		inverse := 1 / outScale
		for v := lo; v <= hi; v++ {
			deq := inScale * float32(v-inZP)
			q := int32(roundHalfAway32(f(deq)*inverse)) + outZP
			k.table[uint8(T(v))] = T(clamp32(q, lo, hi))
		}
	case "RELU", "RELU6":
		// ReluX: rescale to the output, then clamp to [0, 6] quantized.
		m := newMultiplier(float64(inScale) / float64(outScale))
		actLo := max(lo, outZP+int32(roundHalfAway32(0/outScale)))
		actHi := hi
		if op == "RELU6" {
			actHi = min(hi, outZP+int32(roundHalfAway32(6/outScale)))
		}
		for v := lo; v <= hi; v++ {
			q := outZP + m.apply(v-inZP)
			k.table[uint8(T(v))] = T(clamp32(q, actLo, actHi))
		}
	}
	return k, nil
}

func (ip *Interpreter) prepareQuantize(op *Operator) (kernel, error) {
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if in.NumElements() != out.NumElements() {
		return nil, errTensor("output", out, "want the input's size")
	}
	switch {
	case in.Type == Float32 && (out.Type == Uint8 || out.Type == Int8):
		k := &quantizeFloat{signed: out.Type == Int8}
		if k.in, err = floats("input", in); err != nil {
			return nil, err
		}
		if k.scale, k.zp, err = quantParams("output", out); err != nil {
			return nil, err
		}
		k.out = out.Data[:out.NumElements()]
		k.lo, k.hi = typeRange(out.Type)
		return k, nil
	case (in.Type == Uint8 || in.Type == Int8) && out.Type == Float32:
		k := &dequantize{signed: in.Type == Int8, in: in.Data[:in.NumElements()]}
		if k.out, err = floats("output", out); err != nil {
			return nil, err
		}
		if k.scale, k.zp, err = quantParams("input", in); err != nil {
			return nil, err
		}
		return k, nil
	case (in.Type == Uint8 || in.Type == Int8) && (out.Type == Uint8 || out.Type == Int8):
		inScale, inZP, err := quantParams("input", in)
		if err != nil {
			return nil, err
		}
		outScale, outZP, err := quantParams("output", out)
		if err != nil {
			return nil, err
		}
		// reference_ops::Requantize, as a table over the 256 inputs.
		m := newMultiplier(float64(inScale) / float64(outScale))
		inLo, inHi := typeRange(in.Type)
		outLo, outHi := typeRange(out.Type)
		k := &requantize{in: in.Data[:in.NumElements()], out: out.Data[:out.NumElements()]}
		for v := inLo; v <= inHi; v++ {
			k.table[uint8(v)] = uint8(clamp32(m.apply(v-inZP)+outZP, outLo, outHi))
		}
		return k, nil
	}
	return nil, errTensor("input", in, "%s to %s not supported", in.Type, out.Type)
}

type quantizeFloat struct {
	in     []float32
	out    []byte
	scale  float32
	zp     int32
	lo, hi int32
	signed bool
}

func (k *quantizeFloat) eval() error {
	for i, x := range k.in {
		v := x / k.scale
		var q int32
		switch {
		case v != v: // NaN
			q = k.zp
		case v >= math.MaxInt32:
			q = k.hi
		case v <= math.MinInt32:
			q = k.lo
		default:
			q = int32(roundHalfAway32(v)) + k.zp
		}
		k.out[i] = byte(clamp32(q, k.lo, k.hi))
	}
	return nil
}

type dequantize struct {
	in     []byte
	out    []float32
	scale  float32
	zp     int32
	signed bool
}

func (k *dequantize) eval() error {
	for i, b := range k.in {
		v := int32(b)
		if k.signed {
			v = int32(int8(b))
		}
		k.out[i] = float32(float64(k.scale) * float64(v-k.zp))
	}
	return nil
}

type requantize struct {
	in, out []byte
	table   [256]uint8
}

func (k *requantize) eval() error {
	for i, b := range k.in {
		k.out[i] = k.table[b]
	}
	return nil
}
