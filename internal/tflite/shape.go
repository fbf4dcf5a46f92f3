package tflite

import (
	"fmt"
	"slices"
)

// RESHAPE, SQUEEZE (copies: the data do not change), CONCATENATION and PAD.

type copyKernel struct{ in, out []byte }

func (k *copyKernel) eval() error {
	copy(k.out, k.in)
	return nil
}

func (ip *Interpreter) prepareCopy(op *Operator) (kernel, error) {
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if in.Type != out.Type || in.NumElements() != out.NumElements() {
		return nil, errTensor("output", out, "want the input's type and %d elements", in.NumElements())
	}
	n := in.NumElements() * in.Type.Size()
	return &copyKernel{in: in.Data[:n], out: out.Data[:n]}, nil
}

// concatenation copies each input's slices along the axis into the output;
// an 8-bit input quantized unlike the output is requantized through a table
// built as reference_ops::ConcatenationWithScaling computes (in float32).
type concatenation struct {
	outer  int
	parts  [][]byte // per input, its data
	widths []int    // per input, bytes per outer step
	tables []*[256]uint8
	out    []byte
}

func (k *concatenation) eval() error {
	o := 0
	for i := range k.outer {
		for j, part := range k.parts {
			w := k.widths[j]
			src := part[i*w : (i+1)*w]
			dst := k.out[o : o+w]
			if t := k.tables[j]; t != nil {
				for x, b := range src {
					dst[x] = t[b]
				}
			} else {
				copy(dst, src)
			}
			o += w
		}
	}
	return nil
}

func (ip *Interpreter) prepareConcat(op *Operator) (kernel, error) {
	o, ok := op.Options.(*ConcatenationOptions)
	if !ok {
		return nil, fmt.Errorf("no ConcatenationOptions: %w", ErrInterpreter)
	}
	if o.Activation != ActNone {
		return nil, fmt.Errorf("fused activation %s: %w", o.Activation, ErrInterpreter)
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	rank := len(out.Shape)
	axis := o.Axis
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return nil, errTensor("output", out, "axis %d out of range", o.Axis)
	}
	outer := numElements(out.Shape[:axis])
	size := out.Type.Size()
	k := &concatenation{outer: outer, out: out.Data[:out.NumElements()*size]}
	total := 0
	for i := range op.Inputs {
		in, err := ip.input(op, i)
		if err != nil {
			return nil, err
		}
		role := fmt.Sprintf("inputs[%d]", i)
		if in.Type != out.Type || len(in.Shape) != rank {
			return nil, errTensor(role, in, "want type %s and %d dimensions", out.Type, rank)
		}
		for d := range rank {
			if d != axis && in.Shape[d] != out.Shape[d] {
				return nil, errTensor(role, in, "dimension %d differs from the output's %v", d, out.Shape)
			}
		}
		total += in.Shape[axis]
		k.parts = append(k.parts, in.Data[:in.NumElements()*size])
		k.widths = append(k.widths, numElements(in.Shape[axis:])*size)
		var table *[256]uint8
		if out.Type == Uint8 || out.Type == Int8 {
			inScale, inZP, err := quantParams(role, in)
			if err != nil {
				return nil, err
			}
			outScale, outZP, err := quantParams("output", out)
			if err != nil {
				return nil, err
			}
			if inScale != outScale || inZP != outZP {
				table = new([256]uint8)
				lo, hi := typeRange(out.Type)
				scale := inScale * (1 / outScale)
				bias := float32(float32(-inZP) * scale) // rounded: no FMADD with the sum below (dotF)
				for v := lo; v <= hi; v++ {
					q := int32(roundHalfAway32(float32(float32(v)*scale)+bias)) + outZP
					table[uint8(v)] = uint8(clamp32(q, lo, hi))
				}
			}
		}
		k.tables = append(k.tables, table)
	}
	if total != out.Shape[axis] {
		return nil, errTensor("output", out, "inputs add up to %d along axis %d", total, axis)
	}
	return k, nil
}

// pad fills the output with the pad value (0, or the output zero point of a
// quantized tensor), then copies each innermost row of the input.
type pad struct {
	in, out  []byte
	size     int
	inShape  []int
	outShape []int
	before   []int
	fill     []byte // one element of the pad value
	coord    []int
}

func (ip *Interpreter) preparePad(op *Operator) (kernel, error) {
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	paddings, err := ip.input(op, 1)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	rank := len(in.Shape)
	if in.Type != out.Type || len(out.Shape) != rank || rank == 0 {
		return nil, errTensor("output", out, "want the input's type and rank")
	}
	var p []int
	switch paddings.Type {
	case Int32:
		for _, v := range paddings.Int32s() {
			p = append(p, int(v))
		}
	case Int64:
		for _, v := range paddings.Int64s() {
			p = append(p, int(v))
		}
	}
	if paddings.Data == nil || len(p) != 2*rank {
		return nil, errTensor("paddings", paddings, "want constant int32[%d 2]", rank)
	}
	k := &pad{size: in.Type.Size(), inShape: slices.Clone(in.Shape), outShape: slices.Clone(out.Shape),
		before: make([]int, rank), coord: make([]int, rank), fill: make([]byte, in.Type.Size())}
	for d := range rank {
		k.before[d] = p[2*d]
		if p[2*d] < 0 || p[2*d+1] < 0 || in.Shape[d]+p[2*d]+p[2*d+1] != out.Shape[d] {
			return nil, errTensor("output", out, "dimension %d: input %d padded by %d and %d", d, in.Shape[d], p[2*d], p[2*d+1])
		}
	}
	if in.Type == Uint8 || in.Type == Int8 {
		_, zp, err := quantParams("output", out)
		if err != nil {
			return nil, err
		}
		k.fill[0] = byte(zp)
	}
	k.in = in.Data[:in.NumElements()*k.size]
	k.out = out.Data[:out.NumElements()*k.size]
	return k, nil
}

func (k *pad) eval() error {
	for i := 0; i < len(k.out); i += k.size {
		copy(k.out[i:], k.fill)
	}
	rank := len(k.inShape)
	row := k.inShape[rank-1] * k.size
	if row == 0 || len(k.in) == 0 {
		return nil
	}
	clear(k.coord)
	for src := 0; src < len(k.in); src += row {
		off := 0
		for d := range rank {
			c := k.coord[d] + k.before[d]
			if d == rank-1 {
				c = k.before[d]
			}
			off = off*k.outShape[d] + c
		}
		copy(k.out[off*k.size:], k.in[src:src+row])
		for d := rank - 2; d >= 0; d-- {
			k.coord[d]++
			if k.coord[d] < k.inShape[d] {
				break
			}
			k.coord[d] = 0
		}
	}
	return nil
}
