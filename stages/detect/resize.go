package detect

// PIL-compatible antialiased bilinear resize (Pillow's libImaging/Resample.c
// with the BILINEAR filter, as internal/tools/armnn/README.md spells it out):
// per axis a triangle filter widened by the scale factor when shrinking,
// weights normalised in float64 and turned into 22-bit fixed point, each
// output sample (2^21 + Σ sample·weight) >> 22 clipped to 0…255; the
// horizontal pass first, then the vertical one, each only when that axis
// changes size. The goldens' preprocessed input tensors are reproduced byte for
// byte.

import "math"

// precisionBits is Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2.
const precisionBits = 22

// axisCoeffs are one axis's fixed-point filter weights: output i reads
// bounds[2i+1] input samples from bounds[2i] with weights[i*ksize:].
type axisCoeffs struct {
	in, out int // the sizes the tables are for
	ksize   int
	bounds  []int
	weights []int32
}

// precomputeCoeffs is Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc for the bilinear filter (support 1).
func precomputeCoeffs(inSize, outSize int, c *axisCoeffs) {
	if c.in == inSize && c.out == outSize {
		return
	}
	c.in, c.out = inSize, outSize
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := 1 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c.ksize = ksize
	c.bounds = grow(c.bounds, 2*outSize)
	c.weights = grow(c.weights, outSize*ksize)
	kk := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := range outSize {
		center := float64((float64(xx) + 0.5) * scale) // explicit conversions round products: no fused multiply-add on arm64
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := range xmax {
			w := bilinear(float64((float64(x+xmin) - center + 0.5) * ss))
			kk[x] = w
			ww += w
		}
		row := c.weights[xx*ksize : (xx+1)*ksize]
		for x := range ksize {
			w := 0.0
			if x < xmax {
				w = kk[x]
				if ww != 0 {
					w /= ww
				}
			}
			if w < 0 {
				row[x] = int32(-0.5 + float64(w*(1<<precisionBits)))
			} else {
				row[x] = int32(0.5 + float64(w*(1<<precisionBits)))
			}
		}
		c.bounds[2*xx] = xmin
		c.bounds[2*xx+1] = xmax
	}
}

func bilinear(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// clip8 is Pillow's clip8: a fixed-point sum to an 8-bit sample.
func clip8(v int32) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// resizer holds the coefficient tables and the intermediate image of
// resizePIL so that resizing many pictures of one size does not allocate.
type resizer struct {
	horiz, vert axisCoeffs
	tmp         []uint8
	acc         []int32
}

// resize resizes src, an interleaved 8-bit image of w×h pixels with ch
// channels (row-major, no padding), to dst of ow×oh pixels, exactly as
// Pillow's Image.resize((ow, oh), Image.BILINEAR) does for modes L and RGB.
// dst must hold ow*oh*ch bytes.
func (r *resizer) resize(dst, src []uint8, w, h, ch, ow, oh int) {
	needH, needV := w != ow, h != oh
	if !needH && !needV {
		copy(dst, src[:w*h*ch])
		return
	}
	in, inW := src, w
	if needH {
		precomputeCoeffs(w, ow, &r.horiz)
		out := dst
		if needV {
			r.tmp = grow(r.tmp, ow*h*ch)
			out = r.tmp
		}
		resampleHorizontal(out, src, w, h, ch, ow, &r.horiz)
		in, inW = out, ow
	}
	if needV {
		precomputeCoeffs(h, oh, &r.vert)
		r.resampleVertical(dst, in, inW, ch, oh, &r.vert)
	}
}

func resampleHorizontal(dst, src []uint8, w, h, ch, ow int, c *axisCoeffs) {
	for y := range h {
		in := src[y*w*ch : (y+1)*w*ch]
		out := dst[y*ow*ch : (y+1)*ow*ch]
		for xx := range ow {
			xmin, xmax := c.bounds[2*xx], c.bounds[2*xx+1]
			k := c.weights[xx*c.ksize : xx*c.ksize+xmax]
			if ch == 3 {
				p := in[xmin*3 : (xmin+xmax)*3]
				s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				for len(p) >= 3 && len(k) > 0 {
					wt := k[0]
					s0 += int32(p[0]) * wt
					s1 += int32(p[1]) * wt
					s2 += int32(p[2]) * wt
					p, k = p[3:], k[1:]
				}
				o := out[xx*3 : xx*3+3 : xx*3+3]
				o[0], o[1], o[2] = clip8(s0), clip8(s1), clip8(s2)
				continue
			}
			for b := range ch {
				ss := int32(1 << (precisionBits - 1))
				p := in[xmin*ch+b:]
				for x, wt := range k {
					ss += int32(p[x*ch]) * wt
				}
				out[xx*ch+b] = clip8(ss)
			}
		}
	}
}

// resampleVertical accumulates whole rows, tap by tap, in acc, so that it
// reads the source row by row.
func (r *resizer) resampleVertical(dst, src []uint8, w, ch, oh int, c *axisCoeffs) {
	stride := w * ch
	r.acc = grow(r.acc, stride)
	acc := r.acc
	for yy := range oh {
		ymin, ymax := c.bounds[2*yy], c.bounds[2*yy+1]
		k := c.weights[yy*c.ksize : yy*c.ksize+ymax]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, wt := range k {
			row := src[(ymin+y)*stride : (ymin+y+1)*stride]
			acc := acc[:len(row)]
			for i, v := range row {
				acc[i] += int32(v) * wt
			}
		}
		out := dst[yy*stride : (yy+1)*stride]
		for i, v := range acc {
			out[i] = clip8(v)
		}
	}
}
