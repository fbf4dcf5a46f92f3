package tflite

import "slices"

// MEAN over constant axes. Quantized inputs follow reduce.cc's reference
// paths: the 4-D mean over height and width with kept dimensions
// (reference_integer_ops::Mean for int8, reference_ops::Mean for uint8), a
// plain integer mean when input and output share their quantization, and
// reference_ops::QuantizedMeanOrSum's float rescaling otherwise.

type mean struct {
	outIdx []int32 // per input element, its output element
	count  int32   // input elements per output element
	// float32
	inF, outF []float32
	sumF      []float32
	// 8-bit
	in, out []byte
	signed  bool
	sum     []int32
	path    meanPath
	inZP    int32
	outZP   int32
	mult    multiplier
	bias    int32
	scale   float32 // QuantizedMeanOrSum
	biasF   float32
	lo, hi  int32
}

type meanPath int8

const (
	meanInt8HW    meanPath = iota // reference_integer_ops::Mean
	meanUint8HW                   // reference_ops::Mean (uint8, 4-D)
	meanSameQuant                 // sum / count, truncated
	meanRescale                   // QuantizedMeanOrSum
)

func (ip *Interpreter) prepareMean(op *Operator) (kernel, error) {
	o, _ := op.Options.(*ReducerOptions)
	keepDims := o != nil && o.KeepDims
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	axisT, err := ip.input(op, 1)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	rank := len(in.Shape)
	axes := axisT.Int32s()
	if axisT.Data == nil || axes == nil {
		return nil, errTensor("axis", axisT, "want constant int32")
	}
	reduced := make([]bool, rank)
	var sortedAxes []int
	for _, a := range axes {
		d := int(a)
		if d < 0 {
			d += rank
		}
		if d < 0 || d >= rank {
			return nil, errTensor("axis", axisT, "axis %d out of range", a)
		}
		if !reduced[d] {
			sortedAxes = append(sortedAxes, d)
		}
		reduced[d] = true
	}
	slices.Sort(sortedAxes)
	var outShape []int
	outStrides := make([]int, rank)
	for d := range rank {
		if !reduced[d] {
			outShape = append(outShape, in.Shape[d])
		}
	}
	s := 1
	for d := rank - 1; d >= 0; d-- {
		if !reduced[d] {
			outStrides[d] = s
			s *= in.Shape[d]
		}
	}
	if out.NumElements() != numElements(outShape) || in.Type != out.Type {
		return nil, errTensor("output", out, "want %s with %d elements", in.Type, numElements(outShape))
	}
	n := in.NumElements()
	k := &mean{outIdx: make([]int32, n)}
	if out.NumElements() > 0 {
		k.count = int32(n / out.NumElements())
	}
	coord := make([]int, rank)
	for i := range n {
		off := 0
		for d, c := range coord {
			off += c * outStrides[d]
		}
		k.outIdx[i] = int32(off)
		for d := rank - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < in.Shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	switch in.Type {
	case Float32:
		if k.inF, err = floats("input", in); err != nil {
			return nil, err
		}
		if k.outF, err = floats("output", out); err != nil {
			return nil, err
		}
		k.sumF = make([]float32, out.NumElements())
		return k, nil
	case Uint8, Int8:
	default:
		return nil, errTensor("input", in, "type not supported")
	}
	inScale, inZP, err := quantParams("input", in)
	if err != nil {
		return nil, err
	}
	outScale, outZP, err := quantParams("output", out)
	if err != nil {
		return nil, err
	}
	k.in, k.out = in.Data[:n], out.Data[:out.NumElements()]
	k.signed = in.Type == Int8
	k.sum = make([]int32, out.NumElements())
	k.inZP, k.outZP = inZP, outZP
	k.lo, k.hi = typeRange(in.Type)
	hw := keepDims && rank == 4 && slices.Equal(sortedAxes, []int{1, 2}) && len(axes) == 2
	switch {
	case hw && in.Type == Int8:
		k.path = meanInt8HW
		k.mult = newMultiplier(float64(inScale) / float64(outScale))
	case hw:
		k.path = meanUint8HW
		k.bias = outZP - int32(float32(inZP)*inScale/outScale)
		k.mult = newMultiplier(float64(inScale / (float32(k.count) * outScale)))
	case inScale == outScale && inZP == outZP:
		k.path = meanSameQuant
	default:
		k.path = meanRescale
		k.scale = inScale / outScale
		k.biasF = float32(float32(-inZP)*k.scale) + 0.5 // sic: reduce.h adds 0.5 before rounding; no FMADD (dotF)
	}
	return k, nil
}

func (k *mean) eval() error {
	if k.count == 0 {
		return nil // no input elements or no outputs
	}
	if k.inF != nil || k.outF != nil {
		clear(k.sumF)
		for i, x := range k.inF {
			k.sumF[k.outIdx[i]] += x
		}
		for i, s := range k.sumF {
			k.outF[i] = s / float32(k.count)
		}
		return nil
	}
	clear(k.sum)
	for i, b := range k.in {
		v := int32(b)
		if k.signed {
			v = int32(int8(b))
		}
		if k.path == meanInt8HW {
			v -= k.inZP
		}
		k.sum[k.outIdx[i]] += v
	}
	n := k.count
	for i, acc := range k.sum {
		var v int32
		switch k.path {
		case meanInt8HW:
			acc = k.mult.apply(acc)
			if acc > 0 {
				acc = (acc + n/2) / n
			} else {
				acc = (acc - n/2) / n
			}
			v = acc + k.outZP
		case meanUint8HW:
			v = k.mult.apply(acc) + k.bias
		case meanSameQuant:
			v = acc / n
		default:
			m := float32(acc) / float32(n)
			v = int32(roundHalfAway32(float32(m*k.scale)+k.biasF)) + k.outZP
		}
		k.out[i] = byte(clamp32(v, k.lo, k.hi))
	}
	return nil
}
