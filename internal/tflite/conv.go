package tflite

import "fmt"

// convGeometry is the shape arithmetic shared by convolutions and pools.
type convGeometry struct {
	batch, inH, inW, inC int
	outH, outW, outC     int
	kH, kW               int
	strideH, strideW     int
	dilationH, dilationW int
	padTop, padLeft      int
}

func newConvGeometry(in, out *Tensor, kH, kW, strideH, strideW, dilationH, dilationW int, p Padding) (convGeometry, error) {
	if err := wantRank("input", in, 4); err != nil {
		return convGeometry{}, err
	}
	if err := wantRank("output", out, 4); err != nil {
		return convGeometry{}, err
	}
	g := convGeometry{
		batch: in.Shape[0], inH: in.Shape[1], inW: in.Shape[2], inC: in.Shape[3],
		outC: out.Shape[3], kH: kH, kW: kW, strideH: strideH, strideW: strideW,
		dilationH: dilationH, dilationW: dilationW,
	}
	var err error
	if g.outH, g.padTop, err = computePadding(p, strideH, dilationH, g.inH, kH); err != nil {
		return g, err
	}
	if g.outW, g.padLeft, err = computePadding(p, strideW, dilationW, g.inW, kW); err != nil {
		return g, err
	}
	if out.Shape[0] != g.batch || out.Shape[1] != g.outH || out.Shape[2] != g.outW {
		return g, errTensor("output", out, "want [%d %d %d %d] from %s padding", g.batch, g.outH, g.outW, g.outC, p)
	}
	return g, nil
}

// pointwise reports whether the convolution is a 1x1, stride 1, unpadded one:
// then an output pixel's patch is its input pixel.
func (g *convGeometry) pointwise() bool {
	return g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0
}

// im2col writes the patch of output pixel (b, oy, ox) into patch, padding
// with pad: kH*kW*inC values in filter order (ky, kx, c).
func im2col[T any](g *convGeometry, in []T, b, oy, ox int, pad T, patch []T) {
	c := g.inC
	y0 := oy*g.strideH - g.padTop
	x0 := ox*g.strideW - g.padLeft
	i := 0
	for ky := range g.kH {
		y := y0 + ky*g.dilationH
		for kx := range g.kW {
			x := x0 + kx*g.dilationW
			dst := patch[i : i+c]
			if y < 0 || y >= g.inH || x < 0 || x >= g.inW {
				for j := range dst {
					dst[j] = pad
				}
			} else {
				copy(dst, in[((b*g.inH+y)*g.inW+x)*c:])
			}
			i += c
		}
	}
}

// convQuant is CONV_2D on 8-bit quantized tensors: uint8 per-tensor (TFLite's
// reference_ops::Conv) or int8 per-channel (reference_integer_ops::
// ConvPerChannel). Per output value: acc = Σ (w + wOff[oc])·(x + xOff) +
// bias[oc], then out = zp + acc·multiplier[oc], clamped to the activation.
// The patch is padded with the input zero point so padded taps add nothing;
// the sum expands to Σw·x + xOff·Σw + wOff·Σx + K·wOff·xOff.
type convQuant[T quantized] struct {
	g           convGeometry
	pool        *workerPool
	in, out     []T
	filter      []T
	k           int     // patch length kH*kW*inC
	bias        []int32 // per output channel, with xOff·Σw and K·wOff·xOff folded in
	wOff        []int32 // per output channel
	anyWOff     bool
	xOff, outZP int32
	mult        []multiplier
	lo, hi      int32
	scratch     [][]T
	run         func(worker, lo, hi int)
}

func (ip *Interpreter) prepareConv(op *Operator) (kernel, error) {
	o, ok := op.Options.(*Conv2DOptions)
	if !ok {
		return nil, fmt.Errorf("no Conv2DOptions: %w", ErrInterpreter)
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
	if filter.Shape[0] != g.outC || filter.Shape[3] != g.inC {
		return nil, errTensor("filter", filter, "want [%d kh kw %d]", g.outC, g.inC)
	}
	switch in.Type {
	case Float32:
		return newConvFloat(ip, &g, in, filter, bias, out, o.Activation)
	case Uint8, Int8:
		if !ip.plainConv {
			if k, ok, err := newConvPacked(ip, &g, in, filter, bias, out, o.Activation); ok {
				return k, err
			}
		}
		if in.Type == Uint8 {
			return newConvQuant[uint8](ip, &g, in, filter, bias, out, o.Activation)
		}
		return newConvQuant[int8](ip, &g, in, filter, bias, out, o.Activation)
	}
	return nil, errTensor("input", in, "type not supported")
}

// quantizedFilter holds what conv, depthwise and fully-connected kernels
// derive from a quantized filter: per output channel multiplier, filter
// offset and bias.
type quantizedFilter struct {
	mult  []multiplier
	wOff  []int32
	bias  []int32
	xOff  int32
	outZP int32
	lo    int32
	hi    int32
}

// newQuantizedFilter derives the parameters; channelAxis is the filter's
// output-channel dimension, channels their number. uint8 filters take one
// multiplier computed as TFLite's GetQuantizedConvolutionMultipler (input and
// filter scales multiplied in float32); per-channel filters as
// PopulateConvolutionQuantizationParams (in float64).
func newQuantizedFilter(in, filter, bias, out *Tensor, channels, channelAxis int, act Activation) (*quantizedFilter, error) {
	if filter.Type != in.Type || out.Type != in.Type {
		return nil, errTensor("filter", filter, "want input, filter and output of one type (%s)", in.Type)
	}
	inScale, inZP, err := quantParams("input", in)
	if err != nil {
		return nil, err
	}
	outScale, outZP, err := quantParams("output", out)
	if err != nil {
		return nil, err
	}
	fq := filter.Quantization
	if fq == nil || len(fq.Scales) == 0 || (len(fq.Scales) != 1 && (len(fq.Scales) != channels || fq.Dimension != channelAxis)) {
		return nil, errTensor("filter", filter, "want per-tensor quantization or %d scales on dimension %d", channels, channelAxis)
	}
	q := &quantizedFilter{
		mult: make([]multiplier, channels), wOff: make([]int32, channels), bias: make([]int32, channels),
		xOff: -inZP, outZP: outZP,
	}
	for c := range channels {
		i := 0
		if len(fq.Scales) > 1 {
			i = c
		}
		if !(fq.Scales[i] > 0) {
			return nil, errTensor("filter", filter, "scale[%d] %g is not positive", i, fq.Scales[i])
		}
		q.wOff[c] = -int32(fq.ZeroPoints[i])
		if len(fq.Scales) == 1 {
			q.mult[c] = newMultiplier(float64(inScale*fq.Scales[0]) / float64(outScale))
		} else {
			q.mult[c] = newMultiplier(float64(inScale) * float64(fq.Scales[i]) / float64(outScale))
		}
	}
	if bias != nil {
		if bias.Type != Int32 || bias.NumElements() != channels {
			return nil, errTensor("bias", bias, "want int32[%d]", channels)
		}
		b := bias.Int32s()
		if b == nil {
			return nil, errTensor("bias", bias, "no data")
		}
		copy(q.bias, b)
	}
	if q.lo, q.hi, err = quantizedActivationRange(act, out); err != nil {
		return nil, err
	}
	return q, nil
}

func newConvQuant[T quantized](ip *Interpreter, g *convGeometry, in, filter, bias, out *Tensor, act Activation) (kernel, error) {
	q, err := newQuantizedFilter(in, filter, bias, out, g.outC, 0, act)
	if err != nil {
		return nil, err
	}
	k := &convQuant[T]{
		g: *g, pool: ip.pool, in: elems[T](in), out: elems[T](out), filter: elems[T](filter),
		k: g.kH * g.kW * g.inC, xOff: q.xOff, outZP: q.outZP, mult: q.mult, lo: q.lo, hi: q.hi,
		wOff: q.wOff, bias: q.bias,
	}
	if k.filter == nil {
		return nil, errTensor("filter", filter, "no constant data")
	}
	for c := range g.outC {
		var sumW int32
		for _, w := range k.filter[c*k.k : (c+1)*k.k] {
			sumW += int32(w)
		}
		k.bias[c] += k.xOff*sumW + int32(k.k)*k.wOff[c]*k.xOff
		if k.wOff[c] != 0 {
			k.anyWOff = true
		}
	}
	if !g.pointwise() {
		k.scratch = make([][]T, ip.pool.n)
		for w := range k.scratch {
			k.scratch[w] = make([]T, k.k)
		}
	}
	k.run = k.rows
	return k, nil
}

func (k *convQuant[T]) eval() error {
	k.pool.parallel(k.g.batch*k.g.outH, k.run)
	return nil
}

func (k *convQuant[T]) rows(worker, lo, hi int) {
	g := &k.g
	pad := T(-k.xOff) // the input zero point
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox := range g.outW {
			var patch []T
			if k.scratch == nil {
				p := ((b*g.inH+oy)*g.inW + ox) * g.inC
				patch = k.in[p : p+k.k]
			} else {
				patch = k.scratch[worker]
				im2col(g, k.in, b, oy, ox, pad, patch)
			}
			var sumX int32
			if k.anyWOff {
				for _, x := range patch {
					sumX += int32(x)
				}
			}
			dst := k.out[((b*g.outH+oy)*g.outW+ox)*g.outC:][:g.outC]
			filter := k.filter
			c := 0
			for ; c+4 <= g.outC; c += 4 {
				a0, a1, a2, a3 := dot4(patch, filter[c*k.k:(c+4)*k.k], k.k)
				dst[c] = k.finish(c, a0, sumX)
				dst[c+1] = k.finish(c+1, a1, sumX)
				dst[c+2] = k.finish(c+2, a2, sumX)
				dst[c+3] = k.finish(c+3, a3, sumX)
			}
			for ; c < g.outC; c++ {
				dst[c] = k.finish(c, dot(patch, filter[c*k.k:(c+1)*k.k]), sumX)
			}
		}
	}
}

func (k *convQuant[T]) finish(c int, acc, sumX int32) T {
	acc += k.bias[c] + k.wOff[c]*sumX
	return T(clamp32(k.mult[c].apply(acc)+k.outZP, k.lo, k.hi))
}

// dot is Σ a[i]·b[i] in int32.
func dot[T quantized](a, b []T) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// dot4 is dot of a with four consecutive rows of length n of w.
func dot4[T quantized](a, w []T, n int) (s0, s1, s2, s3 int32) {
	a = a[:n]
	w0, w1, w2, w3 := w[:n], w[n:2*n], w[2*n:3*n], w[3*n:4*n]
	for i, x := range a {
		xi := int32(x)
		s0 += xi * int32(w0[i])
		s1 += xi * int32(w1[i])
		s2 += xi * int32(w2[i])
		s3 += xi * int32(w3[i])
	}
	return
}

// convFloat is CONV_2D on float32 tensors (reference_ops::Conv).
type convFloat struct {
	g       convGeometry
	pool    *workerPool
	in, out []float32
	filter  []float32
	bias    []float32
	k       int
	lo, hi  float32
	scratch [][]float32
	run     func(worker, lo, hi int)
}

func newConvFloat(ip *Interpreter, g *convGeometry, in, filter, bias, out *Tensor, act Activation) (kernel, error) {
	k := &convFloat{g: *g, pool: ip.pool, k: g.kH * g.kW * g.inC, bias: make([]float32, g.outC)}
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
	if !g.pointwise() {
		k.scratch = make([][]float32, ip.pool.n)
		for w := range k.scratch {
			k.scratch[w] = make([]float32, k.k)
		}
	}
	k.run = k.rows
	return k, nil
}

func (k *convFloat) eval() error {
	k.pool.parallel(k.g.batch*k.g.outH, k.run)
	return nil
}

func (k *convFloat) rows(worker, lo, hi int) {
	g := &k.g
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox := range g.outW {
			var patch []float32
			if k.scratch == nil {
				p := ((b*g.inH+oy)*g.inW + ox) * g.inC
				patch = k.in[p : p+k.k]
			} else {
				patch = k.scratch[worker]
				im2col(g, k.in, b, oy, ox, 0, patch)
			}
			dst := k.out[((b*g.outH+oy)*g.outW+ox)*g.outC:][:g.outC]
			for c := range dst {
				dst[c] = clampF(dotF(patch, k.filter[c*k.k:(c+1)*k.k])+k.bias[c], k.lo, k.hi)
			}
		}
	}
}

// dotF is Σ a[i]·b[i] in float32, in order, each product rounded before
// it is added (the conversion keeps arm64's compiler from fusing them into
// FMADD, whose single rounding would differ from TFLite's reference).
func dotF(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, x := range a {
		s += float32(x * b[i])
	}
	return s
}
