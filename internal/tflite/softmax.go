package tflite

import "math"

// SOFTMAX over the last dimension. Float: exp((x - max)·beta) / Σ, as
// reference_ops::Softmax. 8-bit: TFLite's reference fixed-point softmax
// (kReference in activations.cc): the differences to the row maximum are
// scaled by beta·input_scale into Q5.26, exponentiated with gemmlowp's
// exp_on_negative_values, summed in Q12.19, and divided through a fixed-point
// reciprocal.

const (
	softmaxScaledDiffIntegerBits = 5
	softmaxAccumulationBits      = 12
)

type softmaxFloat struct {
	in, out []float32
	depth   int
	beta    float32
}

func (k *softmaxFloat) eval() error {
	if k.depth == 0 {
		return nil
	}
	for r := 0; r+k.depth <= len(k.in); r += k.depth {
		x, y := k.in[r:r+k.depth], k.out[r:r+k.depth]
		m := float32(-math.MaxFloat32)
		for _, v := range x {
			m = max(m, v)
		}
		var sum float32
		for i, v := range x {
			e := float32(math.Exp(float64((v - m) * k.beta)))
			y[i] = e
			sum += e
		}
		for i := range y {
			y[i] /= sum
		}
	}
	return nil
}

type softmaxQuant[In, Out quantized] struct {
	in         []In
	out        []Out
	depth      int
	multiplier int32
	leftShift  int
	diffMin    int32
	outMin     int32
	outMax     int32
}

func (ip *Interpreter) prepareSoftmax(op *Operator) (kernel, error) {
	o, _ := op.Options.(*SoftmaxOptions)
	beta := float32(1)
	if o != nil {
		beta = o.Beta
	}
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if len(in.Shape) == 0 || in.NumElements() != out.NumElements() || in.Type != out.Type {
		return nil, errTensor("output", out, "want the input's type and size")
	}
	depth := in.Shape[len(in.Shape)-1]
	switch in.Type {
	case Float32:
		k := &softmaxFloat{depth: depth, beta: beta}
		if k.in, err = floats("input", in); err != nil {
			return nil, err
		}
		if k.out, err = floats("output", out); err != nil {
			return nil, err
		}
		return k, nil
	case Uint8:
		return newSoftmaxQuant[uint8, uint8](in, out, depth, beta)
	case Int8:
		return newSoftmaxQuant[int8, int8](in, out, depth, beta)
	}
	return nil, errTensor("input", in, "type not supported")
}

func newSoftmaxQuant[In, Out quantized](in, out *Tensor, depth int, beta float32) (kernel, error) {
	inScale, _, err := quantParams("input", in)
	if err != nil {
		return nil, err
	}
	outScale, outZP, err := quantParams("output", out)
	if err != nil {
		return nil, err
	}
	lo, hi := typeRange(out.Type)
	if outScale != 1.0/256 || outZP != lo {
		return nil, errTensor("output", out, "want scale 1/256 and zero point %d", lo)
	}
	// PreprocessSoftmaxScaling and CalculateInputRadius.
	real := min(float64(beta)*float64(inScale)*float64(int64(1)<<(31-softmaxScaledDiffIntegerBits)), float64(int64(1)<<31)-1)
	mult, shift := QuantizeMultiplier(real)
	if shift < 0 {
		return nil, errTensor("input", in, "beta·scale %g too small for the fixed-point softmax", real)
	}
	radius := math.Floor(float64((int64(1)<<softmaxScaledDiffIntegerBits)-1) * float64(int64(1)<<(31-softmaxScaledDiffIntegerBits)) / float64(int64(1)<<shift))
	return &softmaxQuant[In, Out]{in: elems[In](in), out: elems[Out](out), depth: depth,
		multiplier: mult, leftShift: shift, diffMin: -int32(radius), outMin: lo, outMax: hi}, nil
}

func (k *softmaxQuant[In, Out]) eval() error {
	if k.depth == 0 {
		return nil
	}
	for r := 0; r+k.depth <= len(k.in); r += k.depth {
		x, y := k.in[r:r+k.depth], k.out[r:r+k.depth]
		maxIn := int32(x[0])
		for _, v := range x {
			maxIn = max(maxIn, int32(v))
		}
		var sum int32
		for _, v := range x {
			diff := int32(v) - maxIn
			if diff >= k.diffMin {
				scaled := SaturatingRoundingDoublingHighMul(diff*(1<<k.leftShift), k.multiplier)
				sum += RoundingDivideByPOT(expOnNegativeValues(scaled, softmaxScaledDiffIntegerBits), softmaxAccumulationBits)
			}
		}
		scale, bitsOver := reciprocal(sum, softmaxAccumulationBits)
		for i, v := range x {
			diff := int32(v) - maxIn
			if diff < k.diffMin {
				y[i] = Out(k.outMin)
				continue
			}
			scaled := SaturatingRoundingDoublingHighMul(diff*(1<<k.leftShift), k.multiplier)
			e := expOnNegativeValues(scaled, softmaxScaledDiffIntegerBits)
			unsat := RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(scale, e), bitsOver+31-8)
			y[i] = Out(clamp32(unsat+k.outMin, k.outMin, k.outMax))
		}
	}
	return nil
}
