package tflite

import "fmt"

// AVERAGE_POOL_2D and MAX_POOL_2D over the taps of each window that lie
// inside the input (TFLite's reference_ops::AveragePool / MaxPool). A
// quantized average rounds half away from zero: (sum ± count/2) / count.

type poolFloat struct {
	g       convGeometry
	pool    *workerPool
	average bool
	in, out []float32
	lo, hi  float32
	acc     [][]float32 // per worker
	run     func(worker, lo, hi int)
}

type poolQuant[T quantized] struct {
	g       convGeometry
	pool    *workerPool
	average bool
	signed  bool
	in, out []T
	lo, hi  int32
	acc     [][]int32 // per worker
	run     func(worker, lo, hi int)
}

func (ip *Interpreter) preparePool(op *Operator) (kernel, error) {
	o, ok := op.Options.(*Pool2DOptions)
	if !ok {
		return nil, fmt.Errorf("no Pool2DOptions: %w", ErrInterpreter)
	}
	in, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	out, err := ip.output(op, 0)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeometry(in, out, o.FilterH, o.FilterW, o.StrideH, o.StrideW, 1, 1, o.Padding)
	if err != nil {
		return nil, err
	}
	if g.outC != g.inC || out.Type != in.Type {
		return nil, errTensor("output", out, "want the input's channels and type")
	}
	average := op.Op == "AVERAGE_POOL_2D"
	switch in.Type {
	case Float32:
		k := &poolFloat{g: g, pool: ip.pool, average: average}
		if k.in, err = floats("input", in); err != nil {
			return nil, err
		}
		if k.out, err = floats("output", out); err != nil {
			return nil, err
		}
		if k.lo, k.hi, err = floatActivationRange(o.Activation); err != nil {
			return nil, err
		}
		k.acc = make([][]float32, ip.pool.n)
		for i := range k.acc {
			k.acc[i] = make([]float32, g.inC)
		}
		k.run = k.rows
		return k, nil
	case Uint8:
		return newPoolQuant[uint8](ip, &g, average, in, out, o.Activation)
	case Int8:
		return newPoolQuant[int8](ip, &g, average, in, out, o.Activation)
	}
	return nil, errTensor("input", in, "type not supported")
}

func newPoolQuant[T quantized](ip *Interpreter, g *convGeometry, average bool, in, out *Tensor, act Activation) (kernel, error) {
	inScale, inZP, err := quantParams("input", in)
	if err != nil {
		return nil, err
	}
	outScale, outZP, err := quantParams("output", out)
	if err != nil {
		return nil, err
	}
	if inScale != outScale || inZP != outZP {
		return nil, errTensor("output", out, "want the input's quantization")
	}
	k := &poolQuant[T]{g: *g, pool: ip.pool, average: average, signed: in.Type == Int8, in: elems[T](in), out: elems[T](out)}
	if k.lo, k.hi, err = quantizedActivationRange(act, out); err != nil {
		return nil, err
	}
	k.acc = make([][]int32, ip.pool.n)
	for i := range k.acc {
		k.acc[i] = make([]int32, g.inC)
	}
	k.run = k.rows
	return k, nil
}

// window is the part of a pooling window inside the input.
func (g *convGeometry) window(oy, ox int) (y0, y1, x0, x1 int) {
	inY, inX := oy*g.strideH-g.padTop, ox*g.strideW-g.padLeft
	return max(inY, 0), min(inY+g.kH, g.inH), max(inX, 0), min(inX+g.kW, g.inW)
}

func (k *poolFloat) eval() error {
	k.pool.parallel(k.g.batch*k.g.outH, k.run)
	return nil
}

func (k *poolFloat) rows(worker, lo, hi int) {
	g := &k.g
	acc := k.acc[worker]
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox := range g.outW {
			y0, y1, x0, x1 := g.window(oy, ox)
			first := true
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					src := k.in[((b*g.inH+y)*g.inW+x)*g.inC:][:g.inC]
					switch {
					case first:
						copy(acc, src)
						first = false
					case k.average:
						for c, v := range src {
							acc[c] += v
						}
					default:
						for c, v := range src {
							acc[c] = max(acc[c], v)
						}
					}
				}
			}
			dst := k.out[((b*g.outH+oy)*g.outW+ox)*g.outC:][:g.outC]
			count := float32((y1 - y0) * (x1 - x0))
			for c := range dst {
				v := acc[c]
				if first {
					v = 0
				} else if k.average {
					v /= count
				}
				dst[c] = clampF(v, k.lo, k.hi)
			}
		}
	}
}

func (k *poolQuant[T]) eval() error {
	k.pool.parallel(k.g.batch*k.g.outH, k.run)
	return nil
}

func (k *poolQuant[T]) rows(worker, lo, hi int) {
	g := &k.g
	acc := k.acc[worker]
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox := range g.outW {
			y0, y1, x0, x1 := g.window(oy, ox)
			first := true
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					src := k.in[((b*g.inH+y)*g.inW+x)*g.inC:][:g.inC]
					switch {
					case first:
						for c, v := range src {
							acc[c] = int32(v)
						}
						first = false
					case k.average:
						for c, v := range src {
							acc[c] += int32(v)
						}
					default:
						for c, v := range src {
							acc[c] = max(acc[c], int32(v))
						}
					}
				}
			}
			dst := k.out[((b*g.outH+oy)*g.outW+ox)*g.outC:][:g.outC]
			count := int32((y1 - y0) * (x1 - x0))
			for c := range dst {
				v := acc[c]
				switch {
				case first:
					v = k.lo
				case k.average && (v >= 0 || !k.signed):
					v = (v + count/2) / count
				case k.average:
					v = (v - count/2) / count
				}
				dst[c] = T(clamp32(v, k.lo, k.hi))
			}
		}
	}
}
