package tflite

// convPacked is the fast path of quantized CONV_2D: the same arithmetic as
// convQuant, computed as an integer matrix product of im2col patches and the
// filter. Values move to the unsigned domain (int8 bytes XOR 0x80, zero
// points + 128), where two output channels' filter values are packed into
// one uint64 (low and high 32 bits): one 64-bit multiply-add then does two
// multiply-accumulates, exact while a channel's sum stays below 2^32 (patches
// of up to maxPackedDepth values). A micro-kernel takes four patches and four
// channels at a time. With S = Σ xu·wu, the accumulator is
// S − xzp·Σwu − wzp·Σxu + K·xzp·wzp (zero points in the unsigned domain);
// padded taps hold the input zero point and add nothing.
type convPacked struct {
	g       convGeometry
	pool    *workerPool
	in, out []byte
	signed  bool
	k       int
	pairs   int      // ceil(outC / 2)
	packed  []uint64 // [pair][k]: channel 2p in the low half, 2p+1 in the high
	bias    []int32  // bias − xzp·Σwu + K·xzp·wzp, per channel
	wZP     []int32  // unsigned-domain filter zero point per channel
	xZPRaw  byte     // the input zero point as a stored byte
	mult    []multiplier
	outZP   int32
	lo, hi  int32
	scratch [][]byte // per worker: 4 patches
	sums    [][4]int32
	run     func(worker, lo, hi int)
}

// maxPackedDepth keeps K·255·255 below 2^32.
const maxPackedDepth = 66051

func newConvPacked(ip *Interpreter, g *convGeometry, in, filter, bias, out *Tensor, act Activation) (kernel, bool, error) {
	k := g.kH * g.kW * g.inC
	if k > maxPackedDepth || k == 0 {
		return nil, false, nil
	}
	q, err := newQuantizedFilter(in, filter, bias, out, g.outC, 0, act)
	if err != nil {
		return nil, true, err
	}
	w := filter.Data
	if len(w) < g.outC*k {
		return nil, true, errTensor("filter", filter, "no constant data")
	}
	signed := in.Type == Int8
	shift := int32(0)
	var flip byte
	if signed {
		shift, flip = 128, 0x80
	}
	c := &convPacked{g: *g, pool: ip.pool, in: in.Data[:in.NumElements()], out: out.Data[:out.NumElements()],
		signed: signed, k: k, pairs: (g.outC + 1) / 2, mult: q.mult, outZP: q.outZP, lo: q.lo, hi: q.hi,
		xZPRaw: byte(-q.xOff), bias: make([]int32, g.outC), wZP: make([]int32, g.outC)}
	c.packed = make([]uint64, c.pairs*k)
	xZP := -q.xOff + shift
	for ch := range g.outC {
		row := w[ch*k : (ch+1)*k]
		var sumW int32
		for i, v := range row {
			u := v ^ flip
			sumW += int32(u)
			c.packed[(ch/2)*k+i] |= uint64(u) << (32 * (ch % 2))
		}
		c.wZP[ch] = -q.wOff[ch] + shift
		c.bias[ch] = q.bias[ch] - xZP*sumW + int32(k)*xZP*c.wZP[ch]
	}
	c.scratch = make([][]byte, ip.pool.n)
	c.sums = make([][4]int32, ip.pool.n)
	for i := range c.scratch {
		c.scratch[i] = make([]byte, 4*k)
	}
	c.run = c.rows
	return c, true, nil
}

func (c *convPacked) eval() error {
	c.pool.parallel(c.g.batch*c.g.outH, c.run)
	return nil
}

func (c *convPacked) rows(worker, lo, hi int) {
	g := &c.g
	k := c.k
	scratch := c.scratch[worker]
	sums := &c.sums[worker]
	var patches [4][]byte
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		for ox0 := 0; ox0 < g.outW; ox0 += 4 {
			n := min(4, g.outW-ox0)
			for j := range 4 {
				if j >= n {
					patches[j] = patches[0]
					continue
				}
				p := scratch[j*k : (j+1)*k]
				im2col(g, c.in, b, oy, ox0+j, c.xZPRaw, p)
				var s int32
				if c.signed {
					for i, v := range p {
						p[i] = v ^ 0x80
						s += int32(v ^ 0x80)
					}
				} else {
					for _, v := range p {
						s += int32(v)
					}
				}
				patches[j] = p
				sums[j] = s
			}
			base := ((b*g.outH+oy)*g.outW + ox0) * g.outC
			pr := 0
			for ; pr+2 <= c.pairs; pr += 2 {
				acc := micro4x2(&patches, c.packed[pr*k:(pr+1)*k], c.packed[(pr+1)*k:(pr+2)*k])
				for j := range n {
					o := base + j*g.outC
					c.store(o, 2*pr, acc[j][0], sums[j])
					c.store(o, 2*pr+1, acc[j][0]>>32, sums[j])
					c.store(o, 2*pr+2, acc[j][1], sums[j])
					c.store(o, 2*pr+3, acc[j][1]>>32, sums[j])
				}
			}
			if pr < c.pairs {
				acc := micro4x1(&patches, c.packed[pr*k:(pr+1)*k])
				for j := range n {
					o := base + j*g.outC
					c.store(o, 2*pr, acc[j], sums[j])
					c.store(o, 2*pr+1, acc[j]>>32, sums[j])
				}
			}
		}
	}
}

// store finishes channel ch of the pixel at o from its unsigned sum s.
func (c *convPacked) store(o, ch int, s uint64, sumX int32) {
	if ch >= c.g.outC {
		return
	}
	acc := int32(uint32(s)) + c.bias[ch] - c.wZP[ch]*sumX
	v := clamp32(c.mult[ch].apply(acc)+c.outZP, c.lo, c.hi)
	c.out[o+ch] = byte(v)
}

// micro4x2 multiplies four patches by two packed channel pairs.
func micro4x2(p *[4][]byte, w0, w1 []uint64) (acc [4][2]uint64) {
	n := len(w0)
	p0, p1, p2, p3 := p[0][:n], p[1][:n], p[2][:n], p[3][:n]
	w1 = w1[:n]
	var a00, a01, a10, a11, a20, a21, a30, a31 uint64
	for i, wa := range w0 {
		wb := w1[i]
		x0, x1, x2, x3 := uint64(p0[i]), uint64(p1[i]), uint64(p2[i]), uint64(p3[i])
		a00 += x0 * wa
		a01 += x0 * wb
		a10 += x1 * wa
		a11 += x1 * wb
		a20 += x2 * wa
		a21 += x2 * wb
		a30 += x3 * wa
		a31 += x3 * wb
	}
	return [4][2]uint64{{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}}
}

// micro4x1 multiplies four patches by one packed channel pair.
func micro4x1(p *[4][]byte, w []uint64) (acc [4]uint64) {
	n := len(w)
	p0, p1, p2, p3 := p[0][:n], p[1][:n], p[2][:n], p[3][:n]
	var a0, a1, a2, a3 uint64
	for i, wa := range w {
		a0 += uint64(p0[i]) * wa
		a1 += uint64(p1[i]) * wa
		a2 += uint64(p2[i]) * wa
		a3 += uint64(p3[i]) * wa
	}
	return [4]uint64{a0, a1, a2, a3}
}
