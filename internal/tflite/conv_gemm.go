package tflite

// convGEMM is the quantized CONV_2D where an assembly micro-kernel exists
// (gemm_amd64.s): the arithmetic of convPacked, computed as an integer
// matrix product of im2col patches widened to int16 and the filter widened
// once at prepare time. Values are in the unsigned domain (int8 bytes XOR
// 0x80, zero points + 128); rows are padded with zeros to a multiple of 16
// values. A worker widens the patches of up to chunk output pixels, then
// walks the filter in blocks of channels that stay in cache, four pixels by
// three channels per micro-kernel call. With S = Σ xu·wu (mod 2^32, exact
// while K·255·255 < 2^32), the accumulator is S − xzp·Σwu − wzp·Σxu +
// K·xzp·wzp; padded taps hold the input zero point and add nothing.
type convGEMM struct {
	g       convGeometry
	pool    *workerPool
	in, out []byte
	flip    byte // 0x80 for int8, 0 for uint8
	xZPRaw  byte // the input zero point as a stored byte
	k, kp   int  // patch length and padded row length
	outCp   int  // output channels rounded up to a multiple of 3
	filter  []int16
	ch      []gemmChannel
	outZP   int32
	lo, hi  int32
	chunk   int // output pixels widened at a time, a multiple of 4
	block   int // channels per filter block, a multiple of 3
	work    []gemmWork
	run     func(worker, lo, hi int)
}

// gemmChannel is what finishing one output channel takes: the folded bias,
// the unsigned-domain filter zero point and the multiplier in the shifts
// and rounding constant of multiplier.apply.
type gemmChannel struct {
	bias, wZP   int32
	left, right uint8
	sig         int64
	round, neg  int64 // 2^(right−1) and −1 when right > 0, else 0
}

func newGemmChannel(bias, wZP int32, m multiplier) gemmChannel {
	c := gemmChannel{bias: bias, wZP: wZP, sig: int64(m.significand)}
	if m.exponent > 0 {
		c.left = uint8(m.exponent)
	} else if m.exponent < 0 {
		c.right = uint8(-m.exponent)
		c.round, c.neg = int64(1)<<(c.right-1), -1
	}
	return c
}

// apply is multiplier.apply for a significand other than MinInt32 (the one
// case needing saturation, which newConvGEMM refuses).
func (c *gemmChannel) apply(x int32) int32 {
	x <<= c.left
	h := (int64(x)*c.sig + 1<<30) >> 31
	return int32((h + c.round + (h>>63)&c.neg) >> c.right)
}

// gemmWork is one worker's scratch space.
type gemmWork struct {
	patches []int16 // chunk rows of kp
	im2col  []byte  // one patch of k bytes
	sums    []int32 // Σxu per row
	acc     [12]int32
}

// Cache budgets: the widened patches of a chunk and one filter block.
const (
	gemmChunkBytes = 256 << 10
	gemmBlockBytes = 96 << 10
	gemmMaxChunk   = 64
)

func newConvGEMM(ip *Interpreter, g *convGeometry, q *quantizedFilter, in, filter, out *Tensor) (kernel, error) {
	k := g.kH * g.kW * g.inC
	w := filter.Data
	if len(w) < g.outC*k {
		return nil, errTensor("filter", filter, "no constant data")
	}
	c := &convGEMM{g: *g, pool: ip.pool, in: in.Data[:in.NumElements()], out: out.Data[:out.NumElements()],
		xZPRaw: byte(-q.xOff), k: k, kp: (k + gemmAlign - 1) / gemmAlign * gemmAlign,
		outCp: (g.outC + gemmCols - 1) / gemmCols * gemmCols, outZP: q.outZP, lo: q.lo, hi: q.hi,
		ch: make([]gemmChannel, g.outC)}
	shift := int32(0)
	if in.Type == Int8 {
		shift, c.flip = 128, 0x80
	}
	c.filter = make([]int16, c.outCp*c.kp)
	xZP := -q.xOff + shift
	for ch := range g.outC {
		row := c.filter[ch*c.kp:][:k]
		var sumW int32
		for i, v := range w[ch*k : (ch+1)*k] {
			u := v ^ c.flip
			row[i] = int16(u)
			sumW += int32(u)
		}
		wZP := -q.wOff[ch] + shift
		c.ch[ch] = newGemmChannel(q.bias[ch]-xZP*sumW+int32(k)*xZP*wZP, wZP, q.mult[ch])
	}
	c.chunk = max(gemmRows, min(gemmMaxChunk, gemmChunkBytes/(2*c.kp))/gemmRows*gemmRows)
	c.block = min(c.outCp, max(gemmCols, gemmBlockBytes/(2*c.kp)/gemmCols*gemmCols))
	c.work = make([]gemmWork, ip.pool.n)
	for i := range c.work {
		c.work[i] = gemmWork{patches: make([]int16, c.chunk*c.kp), im2col: make([]byte, k), sums: make([]int32, c.chunk)}
	}
	c.run = c.rows
	return c, nil
}

func (c *convGEMM) eval() error {
	c.pool.parallel(c.g.batch*c.g.outH, c.run)
	return nil
}

// rows computes output rows [lo, hi) (over batch and height).
func (c *convGEMM) rows(worker, lo, hi int) {
	g := &c.g
	wk := &c.work[worker]
	first, end := lo*g.outW, hi*g.outW
	for p0 := first; p0 < end; p0 += c.chunk {
		n := min(c.chunk, end-p0)
		for j := range n {
			c.widen(wk, j, p0+j)
		}
		for cb := 0; cb < c.outCp; cb += c.block {
			ce := min(cb+c.block, c.outCp)
			for j0 := 0; j0 < n; j0 += gemmRows {
				rows := min(gemmRows, n-j0)
				patches := wk.patches[j0*c.kp:]
				for ch := cb; ch < ce; ch += gemmCols {
					gemm4x3(patches, c.filter[ch*c.kp:], c.kp, c.kp, &wk.acc)
					if ch+gemmCols <= g.outC {
						c.store3(wk, p0+j0, ch, rows, j0)
						continue
					}
					for r := range rows {
						o := (p0 + j0 + r) * g.outC
						for l := range min(gemmCols, g.outC-ch) {
							c.store(o+ch+l, &c.ch[ch+l], wk.acc[r*gemmCols+l], wk.sums[j0+r])
						}
					}
				}
			}
		}
	}
}

// widen writes the patch of output pixel pix (over batch, height, width)
// into row j of the worker's patches, in the unsigned domain, and its sum.
func (c *convGEMM) widen(wk *gemmWork, j, pix int) {
	g := &c.g
	var src []byte
	if g.pointwise() {
		src = c.in[pix*g.inC:][:c.k]
	} else {
		r, ox := pix/g.outW, pix%g.outW
		im2col(g, c.in, r/g.outH, r%g.outH, ox, c.xZPRaw, wk.im2col)
		src = wk.im2col
	}
	dst := wk.patches[j*c.kp:][:len(src)]
	flip := c.flip
	var s int32
	for i, v := range src {
		u := v ^ flip
		dst[i] = int16(u)
		s += int32(u)
	}
	wk.sums[j] = s
}

// store3 finishes channels ch..ch+2 of rows pixels from pixel pix on, whose
// patches are rows j0.. of the worker's.
func (c *convGEMM) store3(wk *gemmWork, pix, ch, rows, j0 int) {
	outC := c.g.outC
	c0, c1, c2 := &c.ch[ch], &c.ch[ch+1], &c.ch[ch+2]
	for r := range rows {
		o := (pix+r)*outC + ch
		s := wk.sums[j0+r]
		a := wk.acc[r*gemmCols:][:3]
		dst := c.out[o:][:3]
		dst[0] = byte(clamp32(c0.apply(a[0]+c0.bias-c0.wZP*s)+c.outZP, c.lo, c.hi))
		dst[1] = byte(clamp32(c1.apply(a[1]+c1.bias-c1.wZP*s)+c.outZP, c.lo, c.hi))
		dst[2] = byte(clamp32(c2.apply(a[2]+c2.bias-c2.wZP*s)+c.outZP, c.lo, c.hi))
	}
}

// store finishes one output value at o from its unsigned sum s (read as
// int32: the arithmetic wraps like uint32) and the patch sum sumX.
func (c *convGEMM) store(o int, ch *gemmChannel, s, sumX int32) {
	c.out[o] = byte(clamp32(ch.apply(s+ch.bias-ch.wZP*sumX)+c.outZP, c.lo, c.hi))
}
