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
	acc       [][]int32 // per worker, outC (capacity a whole number of requantLanes)
	rq        []int32   // requantParams of the multipliers
	outs      [][]int32 // per worker, a partial group of requantized values
	outBytes  []byte    // out as bytes
	// 3x3 filters with multiplier 1: the filter per tap and the bias with
	// xOff·Σw folded in, for pixels whose window lies inside the input.
	taps       [9][]int32
	biasInside []int32
	// The same interleaved for the assembly kernel (depthwise3x3Interleave)
	// and the input as bytes.
	interleaved []int32
	inBytes     []byte
	signed      bool
	run         func(worker, lo, hi int)
}

// The assembly 3x3 kernel works on groups of depthwiseLanes channels; a
// group's filter is nine tap vectors then the bias vector.
const (
	depthwiseLanes    = 8
	depthwiseGroupLen = 10 * depthwiseLanes
)

// depthwise3x3Interleave lays out the whole groups of channels of taps and
// bias for the assembly kernel: per group, tap 0's eight channels, …, tap
// 8's, then the bias's.
func depthwise3x3Interleave(taps *[9][]int32, bias []int32) []int32 {
	groups := len(bias) / depthwiseLanes
	w := make([]int32, groups*depthwiseGroupLen)
	for g := range groups {
		dst := w[g*depthwiseGroupLen:]
		for t := range taps {
			copy(dst[t*depthwiseLanes:][:depthwiseLanes], taps[t][g*depthwiseLanes:])
		}
		copy(dst[9*depthwiseLanes:][:depthwiseLanes], bias[g*depthwiseLanes:])
	}
	return w
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
	lanes := (g.outC + requantLanes - 1) / requantLanes * requantLanes
	k.rq = requantParams(nil, nil, q.mult, lanes)
	k.outs = make([][]int32, ip.pool.n)
	k.outBytes = out.Data[:out.NumElements()]
	for i := range k.acc {
		k.acc[i] = make([]int32, g.outC, lanes)
		k.outs[i] = make([]int32, requantLanes)
	}
	if g.kH == 3 && g.kW == 3 && depthMult == 1 {
		k.biasInside = make([]int32, g.outC)
		for t := range k.taps {
			k.taps[t] = k.filter[t*g.outC : (t+1)*g.outC]
			for c, w := range k.taps[t] {
				k.biasInside[c] += q.xOff * w
			}
		}
		for c := range k.biasInside {
			k.biasInside[c] += q.bias[c]
		}
		k.interleaved = depthwise3x3Interleave(&k.taps, k.biasInside)
		k.inBytes = in.Data[:in.NumElements()]
		k.signed = in.Type == Int8
	}
	k.run = k.rows
	return k, nil
}

// inside3x3 computes the accumulators of a pixel whose 3x3 window lies
// inside the input: Σ x·w over the nine taps plus biasInside.
func (k *depthwiseQuant[T]) inside3x3(acc []int32, b, y0, x0 int) {
	g := &k.g
	n := len(acc)
	row := func(dy, dx int) []T {
		return k.in[((b*g.inH+y0+dy*g.dilationH)*g.inW+x0+dx*g.dilationW)*g.inC:][:n]
	}
	x00, x01, x02 := row(0, 0), row(0, 1), row(0, 2)
	x10, x11, x12 := row(1, 0), row(1, 1), row(1, 2)
	x20, x21, x22 := row(2, 0), row(2, 1), row(2, 2)
	w := &k.taps
	w00, w01, w02 := w[0][:n], w[1][:n], w[2][:n]
	w10, w11, w12 := w[3][:n], w[4][:n], w[5][:n]
	w20, w21, w22 := w[6][:n], w[7][:n], w[8][:n]
	bias := k.biasInside[:n]
	x0Byte := ((b*g.inH+y0)*g.inW + x0) * g.inC
	done := depthwise3x3Asm(k.inBytes, x0Byte, g.dilationW*g.inC, g.dilationH*g.inW*g.inC, k.signed, k.interleaved, acc)
	for c := done; c < n; c++ {
		acc[c] = bias[c] +
			int32(x00[c])*w00[c] + int32(x01[c])*w01[c] + int32(x02[c])*w02[c] +
			int32(x10[c])*w10[c] + int32(x11[c])*w11[c] + int32(x12[c])*w12[c] +
			int32(x20[c])*w20[c] + int32(x21[c])*w21[c] + int32(x22[c])*w22[c]
	}
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
			y0 := oy*g.strideH - g.padTop
			x0 := ox*g.strideW - g.padLeft
			if k.biasInside != nil && y0 >= 0 && x0 >= 0 && y0+2*g.dilationH < g.inH && x0+2*g.dilationW < g.inW {
				k.inside3x3(acc, b, y0, x0)
				k.finish(worker, acc, ((b*g.outH+oy)*g.outW+ox)*g.outC)
				continue
			}
			copy(acc, k.q.bias)
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
			k.finish(worker, acc, ((b*g.outH+oy)*g.outW+ox)*g.outC)
		}
	}
}

// finish scales and clamps one pixel's accumulators into the output at o.
func (k *depthwiseQuant[T]) finish(worker int, acc []int32, o int) {
	q := k.q
	dst := k.out[o:][:len(acc)]
	if haveGEMMAsm && k.rq != nil {
		requantBytes(acc[:cap(acc)], 0, k.rq, q.outZP, q.lo, q.hi, k.outBytes[o:][:len(acc)], k.outs[worker])
		return
	}
	mult := q.mult[:len(acc)]
	for c, a := range acc {
		dst[c] = T(clamp32(mult[c].apply(a)+q.outZP, q.lo, q.hi))
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
							acc[oc] += float32(v * w[oc]) // rounded: no FMADD (dotF)
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
