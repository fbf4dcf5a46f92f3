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
	rq      []int32 // requantParams of the folded bias and filter zero points
	outZP   int32
	lo, hi  int32
	chunk   int // output pixels widened at a time, a multiple of 4
	block   int // channels per filter block, a multiple of 24 (3 and 8)
	// rawStride is the length of a worker's row of block sums: the
	// micro-kernel writes a fourth value after each three channels.
	rawStride int
	work      []gemmWork
	run       func(worker, lo, hi int)
}

// gemmWork is one worker's scratch space.
type gemmWork struct {
	patches []int16 // chunk rows of kp
	im2col  []byte  // one patch of k bytes
	sums    []int32 // Σxu per row
	raw     []int32 // chunk rows of rawStride sums (block and spare)
	outs    []int32 // a partial group of requantized values
}

// Cache budgets: the widened patches of a chunk and one filter block.
const (
	gemmChunkBytes = 256 << 10
	gemmBlockBytes = 96 << 10
	gemmMaxChunk   = 64
	gemmMaxBlock   = 480
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
	}
	shift := int32(0)
	if in.Type == Int8 {
		shift, c.flip = 128, 0x80
	}
	c.filter = make([]int16, c.outCp*c.kp)
	xZP := -q.xOff + shift
	bias, wZPs := make([]int32, g.outC), make([]int32, g.outC)
	for ch := range g.outC {
		row := c.filter[ch*c.kp:][:k]
		var sumW int32
		for i, v := range w[ch*k : (ch+1)*k] {
			u := v ^ c.flip
			row[i] = int16(u)
			sumW += int32(u)
		}
		wZPs[ch] = -q.wOff[ch] + shift
		bias[ch] = q.bias[ch] - xZP*sumW + int32(k)*xZP*wZPs[ch]
	}
	const blockStep = gemmCols * requantLanes
	c.block = min((c.outCp+blockStep-1)/blockStep*blockStep, gemmMaxBlock,
		max(blockStep, gemmBlockBytes/(2*c.kp)/blockStep*blockStep))
	if c.rq = requantParams(bias, wZPs, q.mult, c.outCp+c.block); c.rq == nil {
		return nil, errTensor("output", out, "negative multiplier")
	}
	c.chunk = max(gemmRows, min(gemmMaxChunk, gemmChunkBytes/(2*c.kp))/gemmRows*gemmRows)
	c.rawStride = c.block + requantLanes
	c.work = make([]gemmWork, ip.pool.n)
	for i := range c.work {
		c.work[i] = gemmWork{patches: make([]int16, c.chunk*c.kp), im2col: make([]byte, k), sums: make([]int32, c.chunk),
			raw: make([]int32, c.chunk*c.rawStride), outs: make([]int32, requantLanes)}
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
				patches := wk.patches[j0*c.kp:]
				raw := wk.raw[j0*c.rawStride:]
				for ch := cb; ch < ce; ch += gemmCols {
					gemm4x3(patches, c.filter[ch*c.kp:], c.kp, c.kp, raw[ch-cb:], c.rawStride)
				}
			}
			c.finish(wk, p0, n, cb, min(ce, g.outC))
		}
	}
}

// finish requantizes channels [cb, ce) of the chunk's n pixels from pixel
// p0 on into the output.
func (c *convGEMM) finish(wk *gemmWork, p0, n, cb, ce int) {
	outC := c.g.outC
	lanes := (ce - cb + requantLanes - 1) / requantLanes * requantLanes
	rq := c.rq[cb/requantLanes*requantGroupLen:]
	for j := range n {
		dst := c.out[(p0+j)*outC+cb:][:ce-cb]
		requantBytes(wk.raw[j*c.rawStride:][:lanes], wk.sums[j], rq, c.outZP, c.lo, c.hi, dst, wk.outs)
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
	wk.sums[j] = widen(src, c.flip, wk.patches[j*c.kp:][:len(src)])
}
