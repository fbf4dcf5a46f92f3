package tflite

import "fmt"

// depthwiseQuant is DEPTHWISE_CONV_2D on 8-bit quantized tensors (TFLite's
// reference_ops::DepthwiseConv for uint8, reference_integer_ops::
// DepthwiseConvPerChannel for int8): output channel oc = ic·multiplier + m
// sums (w + wOff[oc])·(x + xOff) over the taps inside the input, adds the
// bias, scales and clamps. The filter is kept with its offset applied.
type depthwiseQuant[T quantized] struct {
	g         convGeometry
	pool      *workerPool
	in, out   []T
	filter    []int32 // (w + wOff) in [kh][kw][outC] order
	depthMult int
	q         *quantizedFilter
	acc       [][]int32 // per worker, outC
	run       func(worker, lo, hi int)
}

func (ip *Interpreter) prepareDepthwise(op *Operator) (kernel, error) {
	o, ok := op.Options.(*DepthwiseConv2DOptions)
	if !ok {
		return nil, fmt.Errorf("no DepthwiseConv2DOptions: %w", ErrInterpreter)
	}
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	filter, err := ip.input(op, 1)
	if err != nil {
		return nil, err
	}
	bias := ip.optionalInput(op, 2)
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	if err := wantRank("filter", filter, 4); err != nil {
		return nil, err
	}
	g, err := newConvGeometry(in, out, filter.Shape[1], filter.Shape[2], o.StrideH, o.StrideW, max(o.DilationH, 1), max(o.DilationW, 1), o.Padding)
	if err != nil {
		return nil, err
	}
	if filter.Shape[0] != 1 || filter.Shape[3] != g.outC || g.inC == 0 || g.outC%g.inC != 0 {
		return nil, errTensor("filter", filter, "want [1 kh kw %d], a multiple of the %d input channels", g.outC, g.inC)
	}
	depthMult := g.outC / g.inC
	switch in.Type {
	case Float32:
		return newDepthwiseFloat(ip, &g, depthMult, in, filter, bias, out, o.Activation)
	case Uint8:
		return newDepthwiseQuant[uint8](ip, &g, depthMult, in, filter, bias, out, o.Activation)
	case Int8:
		return newDepthwiseQuant[int8](ip, &g, depthMult, in, filter, bias, out, o.Activation)
	}
	return nil, errTensor("input", in, "type not supported")
}

func newDepthwiseQuant[T quantized](ip *Interpreter, g *convGeometry, depthMult int, in, filter, bias, out *Tensor, act Activation) (kernel, error) {
	q, err := newQuantizedFilter(in, filter, bias, out, g.outC, 3, act)
	if err != nil {
		return nil, err
	}
	w := elems[T](filter)
	if w == nil {
		return nil, errTensor("filter", filter, "no constant data")
	}
	k := &depthwiseQuant[T]{g: *g, pool: ip.pool, in: elems[T](in), out: elems[T](out), depthMult: depthMult, q: q,
		filter: make([]int32, len(w)), acc: make([][]int32, ip.pool.n)}
	for i, v := range w {
		k.filter[i] = int32(v) + q.wOff[i%g.outC]
	}
	for i := range k.acc {
		k.acc[i] = make([]int32, g.outC)
	}
	k.run = k.rows
	return k, nil
}

func (k *depthwiseQuant[T]) eval() error {
	k.pool.parallel(k.g.batch*k.g.outH, k.run)
	return nil
}

func (k *depthwiseQuant[T]) rows(worker, lo, hi int) {
	g := &k.g
	acc := k.acc[worker]
	xOff := k.q.xOff
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox := range g.outW {
			copy(acc, k.q.bias)
			y0 := oy*g.strideH - g.padTop
			x0 := ox*g.strideW - g.padLeft
			for ky := range g.kH {
				y := y0 + ky*g.dilationH
				if y < 0 || y >= g.inH {
					continue
				}
				for kx := range g.kW {
					x := x0 + kx*g.dilationW
					if x < 0 || x >= g.inW {
						continue
					}
					src := k.in[((b*g.inH+y)*g.inW+x)*g.inC:][:g.inC]
					w := k.filter[(ky*g.kW+kx)*g.outC:][:g.outC]
					if k.depthMult == 1 {
						a := acc[:len(src)]
						w = w[:len(src)]
						for c, v := range src {
							a[c] += (int32(v) + xOff) * w[c]
						}
						continue
					}
					for ic, v := range src {
						xv := int32(v) + xOff
						for m := range k.depthMult {
							oc := ic*k.depthMult + m
							acc[oc] += xv * w[oc]
						}
					}
				}
			}
			dst := k.out[((b*g.outH+oy)*g.outW+ox)*g.outC:][:g.outC]
			for c, a := range acc {
				dst[c] = T(clamp32(k.q.mult[c].apply(a)+k.q.outZP, k.q.lo, k.q.hi))
			}
		}
	}
}

// depthwiseFloat is DEPTHWISE_CONV_2D on float32 tensors.
type depthwiseFloat struct {
	g         convGeometry
	pool      *workerPool
	in, out   []float32
	filter    []float32
	bias      []float32
	depthMult int
	lo, hi    float32
	acc       [][]float32
	run       func(worker, lo, hi int)
}

func newDepthwiseFloat(ip *Interpreter, g *convGeometry, depthMult int, in, filter, bias, out *Tensor, act Activation) (kernel, error) {
	k := &depthwiseFloat{g: *g, pool: ip.pool, depthMult: depthMult, bias: make([]float32, g.outC), acc: make([][]float32, ip.pool.n)}
	var err error
	if k.in, err = floats("input", in); err != nil {
		return nil, err
	}
	if k.out, err = floats("output", out); err != nil {
		return nil, err
	}
	if k.filter, err = floats("filter", filter); err != nil {
		return nil, err
	}
	if bias != nil {
		b, err := floats("bias", bias)
		if err != nil {
			return nil, err
		}
		if len(b) != g.outC {
			return nil, errTensor("bias", bias, "want %d values", g.outC)
		}
		copy(k.bias, b)
	}
	if k.lo, k.hi, err = floatActivationRange(act); err != nil {
		return nil, err
	}
	for i := range k.acc {
		k.acc[i] = make([]float32, g.outC)
	}
	k.run = k.rows
	return k, nil
}

func (k *depthwiseFloat) eval() error {
	k.pool.parallel(k.g.batch*k.g.outH, k.run)
	return nil
}

func (k *depthwiseFloat) rows(worker, lo, hi int) {
	g := &k.g
	acc := k.acc[worker]
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox := range g.outW {
			clear(acc)
			y0 := oy*g.strideH - g.padTop
			x0 := ox*g.strideW - g.padLeft
			for ky := range g.kH {
				y := y0 + ky*g.dilationH
				if y < 0 || y >= g.inH {
					continue
				}
				for kx := range g.kW {
					x := x0 + kx*g.dilationW
					if x < 0 || x >= g.inW {
						continue
					}
					src := k.in[((b*g.inH+y)*g.inW+x)*g.inC:][:g.inC]
					w := k.filter[(ky*g.kW+kx)*g.outC:][:g.outC]
					for ic, v := range src {
						for m := range k.depthMult {
							oc := ic*k.depthMult + m
							acc[oc] += v * w[oc]
						}
					}
				}
			}
			dst := k.out[((b*g.outH+oy)*g.outW+ox)*g.outC:][:g.outC]
			for c, a := range acc {
				dst[c] = clampF(a+k.bias[c], k.lo, k.hi)
			}
		}
	}
}
