package tflite

import "fmt"

// FULLY_CONNECTED: output[b][u] = act(Σ_d input[b][d]·weights[u][d] + bias[u]),
// the input flattened to [batch, depth] with depth the weights' second
// dimension (TFLite's reference_ops::FullyConnected; quantized as conv).

func (ip *Interpreter) prepareFullyConnected(op *Operator) (kernel, error) {
	o, ok := op.Options.(*FullyConnectedOptions)
	if !ok {
		return nil, fmt.Errorf("no FullyConnectedOptions: %w", ErrInterpreter)
	}
	if o.ShuffledWeights {
		return nil, fmt.Errorf("shuffled weights: %w", ErrInterpreter)
	}
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	weights, err := ip.input(op, 1)
	if err != nil {
		return nil, err
	}
	bias := ip.optionalInput(op, 2)
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if err := wantRank("weights", weights, 2); err != nil {
		return nil, err
	}
	units, depth := weights.Shape[0], weights.Shape[1]
	if depth == 0 || in.NumElements()%depth != 0 {
		return nil, errTensor("input", in, "not a multiple of the weights' depth %d", depth)
	}
	batch := in.NumElements() / depth
	if out.NumElements() != batch*units {
		return nil, errTensor("output", out, "want %d×%d values", batch, units)
	}
	switch in.Type {
	case Float32:
		k := &fcFloat{batch: batch, units: units, depth: depth, bias: make([]float32, units)}
		if k.in, err = floats("input", in); err != nil {
			return nil, err
		}
		if k.out, err = floats("output", out); err != nil {
			return nil, err
		}
		if k.w, err = floats("weights", weights); err != nil {
			return nil, err
		}
		if bias != nil {
			b, err := floats("bias", bias)
			if err != nil {
				return nil, err
			}
			if len(b) != units {
				return nil, errTensor("bias", bias, "want %d values", units)
			}
			copy(k.bias, b)
		}
		if k.lo, k.hi, err = floatActivationRange(o.Activation); err != nil {
			return nil, err
		}
		return k, nil
	case Uint8:
		return newFCQuant[uint8](in, weights, bias, out, batch, units, depth, o.Activation)
	case Int8:
		return newFCQuant[int8](in, weights, bias, out, batch, units, depth, o.Activation)
	}
	return nil, errTensor("input", in, "type not supported")
}

type fcFloat struct {
	batch, units, depth int
	in, out, w, bias    []float32
	lo, hi              float32
}

func (k *fcFloat) eval() error {
	for b := range k.batch {
		x := k.in[b*k.depth : (b+1)*k.depth]
		for u := range k.units {
			k.out[b*k.units+u] = clampF(dotF(x, k.w[u*k.depth:(u+1)*k.depth])+k.bias[u], k.lo, k.hi)
		}
	}
	return nil
}

type fcQuant[T quantized] struct {
	batch, units, depth int
	in, out, w          []T
	q                   *quantizedFilter
}

func newFCQuant[T quantized](in, weights, bias, out *Tensor, batch, units, depth int, act Activation) (kernel, error) {
	q, err := newQuantizedFilter(in, weights, bias, out, units, 0, act)
	if err != nil {
		return nil, err
	}
	k := &fcQuant[T]{batch: batch, units: units, depth: depth, in: elems[T](in), out: elems[T](out), w: elems[T](weights), q: q}
	if k.w == nil {
		return nil, errTensor("weights", weights, "no constant data")
	}
	return k, nil
}

func (k *fcQuant[T]) eval() error {
	q := k.q
	for b := range k.batch {
		x := k.in[b*k.depth : (b+1)*k.depth]
		for u := range k.units {
			w := k.w[u*k.depth : (u+1)*k.depth]
			var acc int32
			for d, xv := range x {
				acc += (int32(w[d]) + q.wOff[u]) * (int32(xv) + q.xOff)
			}
			acc += q.bias[u]
			k.out[b*k.units+u] = T(clamp32(q.mult[u].apply(acc)+q.outZP, q.lo, q.hi))
		}
	}
	return nil
}
