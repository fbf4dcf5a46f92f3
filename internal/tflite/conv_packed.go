package tflite

import "slices"

// convPacked is the fast path of quantized CONV_2D: the same arithmetic as
// convQuant, computed as an integer matrix product of im2col patches and the
// filter. Values move to the unsigned domain (int8 bytes XOR 0x80, zero
// points + 128), where three output channels' filter values are packed into
// one uint64 (21-bit lanes): one 64-bit multiply-add then does three
// multiply-accumulates. A lane holds the sum of packedBlock products of two
// bytes (< 2^21); after each block the lanes are added into 32-bit totals,
// exact while a channel's sum stays below 2^32 (patches of up to
// maxPackedDepth values). A micro-kernel takes four patches and six channels
// at a time. With S = Σ xu·wu, the accumulator is
// S − xzp·Σwu − wzp·Σxu + K·xzp·wzp (zero points in the unsigned domain);
// padded taps hold the input zero point and add nothing.
type convPacked struct {
	g       convGeometry
	pool    *workerPool
	in, out []byte
	signed  bool
	k       int
	triples int      // ceil(outC / 3)
	packed  []uint64 // [triple][k]: channel 3t in bits 0-20, 3t+1 in 21-41, 3t+2 from 42
	bias    []int32  // bias − xzp·Σwu + K·xzp·wzp, per channel
	wZP     []int32  // unsigned-domain filter zero point per channel
	xZPRaw  byte     // the input zero point as a stored byte
	mult    []multiplier
	outZP   int32
	lo, hi  int32
	scratch [][]byte // per worker: 4 patches
	sums    [][4]int32
	totals  [][4][6]uint32 // per worker
	run     func(worker, lo, hi int)
}

// packedBlock products of two bytes fit a 21-bit lane: 32·255·255 < 2^21.
const (
	packedBlock = 32
	laneBits    = 21
	laneMask    = 1<<laneBits - 1
)

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
	if haveGEMMAsm && !ip.packedConv && !slices.ContainsFunc(q.mult, func(m multiplier) bool { return m.significand < 0 }) {
		kern, err := newConvGEMM(ip, g, q, in, filter, out)
		return kern, true, err
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
		signed: signed, k: k, triples: (g.outC + 2) / 3, mult: q.mult, outZP: q.outZP, lo: q.lo, hi: q.hi,
		xZPRaw: byte(-q.xOff), bias: make([]int32, g.outC), wZP: make([]int32, g.outC)}
	c.packed = make([]uint64, c.triples*k)
	xZP := -q.xOff + shift
	for ch := range g.outC {
		row := w[ch*k : (ch+1)*k]
		var sumW int32
		for i, v := range row {
			u := v ^ flip
			sumW += int32(u)
			c.packed[(ch/3)*k+i] |= uint64(u) << (laneBits * (ch % 3))
		}
		c.wZP[ch] = -q.wOff[ch] + shift
		c.bias[ch] = q.bias[ch] - xZP*sumW + int32(k)*xZP*c.wZP[ch]
	}
	c.scratch = make([][]byte, ip.pool.n)
	c.sums = make([][4]int32, ip.pool.n)
	c.totals = make([][4][6]uint32, ip.pool.n)
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
			tot := &c.totals[worker]
			for tr := 0; tr < c.triples; tr += 2 {
				w0 := c.packed[tr*k : (tr+1)*k]
				w1 := w0
				if tr+1 < c.triples {
					w1 = c.packed[(tr+1)*k : (tr+2)*k]
				}
				micro4x6(&patches, w0, w1, tot)
				for j := range n {
					o := base + j*g.outC
					for l := range 6 {
						c.store(o, 3*tr+l, tot[j][l], sums[j])
					}
				}
			}
		}
	}
}

// store finishes channel ch of the pixel at o from its unsigned sum s.
func (c *convPacked) store(o, ch int, s uint32, sumX int32) {
	if ch >= c.g.outC {
		return
	}
	acc := int32(s) + c.bias[ch] - c.wZP[ch]*sumX
	v := clamp32(c.mult[ch].apply(acc)+c.outZP, c.lo, c.hi)
	c.out[o+ch] = byte(v)
}

// micro4x6 multiplies four patches by two packed channel triples (six
// channels) into tot, block by block.
func micro4x6(p *[4][]byte, w0, w1 []uint64, tot *[4][6]uint32) {
	*tot = [4][6]uint32{}
	n := len(w0)
	w1 = w1[:n]
	p0, p1, p2, p3 := p[0][:n], p[1][:n], p[2][:n], p[3][:n]
	for k0 := 0; k0 < n; k0 += packedBlock {
		k1 := min(k0+packedBlock, n)
		wa, wb := w0[k0:k1], w1[k0:k1]
		q0, q1, q2, q3 := p0[k0:k1], p1[k0:k1], p2[k0:k1], p3[k0:k1]
		wb = wb[:len(wa)]
		q0, q1, q2, q3 = q0[:len(wa)], q1[:len(wa)], q2[:len(wa)], q3[:len(wa)]
		var a00, a01, a10, a11, a20, a21, a30, a31 uint64
		for i, x := range wa {
			y := wb[i]
			x0, x1, x2, x3 := uint64(q0[i]), uint64(q1[i]), uint64(q2[i]), uint64(q3[i])
			a00 += x0 * x
			a01 += x0 * y
			a10 += x1 * x
			a11 += x1 * y
			a20 += x2 * x
			a21 += x2 * y
			a30 += x3 * x
			a31 += x3 * y
		}
		unpack(&tot[0], a00, a01)
		unpack(&tot[1], a10, a11)
		unpack(&tot[2], a20, a21)
		unpack(&tot[3], a30, a31)
	}
}

// unpack adds the lanes of two packed sums to six channel totals.
func unpack(t *[6]uint32, a, b uint64) {
	t[0] += uint32(a & laneMask)
	t[1] += uint32(a >> laneBits & laneMask)
	t[2] += uint32(a >> (2 * laneBits))
	t[3] += uint32(b & laneMask)
	t[4] += uint32(b >> laneBits & laneMask)
	t[5] += uint32(b >> (2 * laneBits))
}
