package tflite

// requantLanes channels share one parameter group of the vector
// requantization; requantGroupLen is a group's length in int32 values.
const (
	requantLanes    = 8
	requantGroupLen = 7 * requantLanes
)

// requantParams lays out per-channel bias, filter zero point and
// multipliers for requantAVX2, in groups of eight channels (the last group
// padded with zeros): bias, wZP, left shift, significand, right shift,
// 2^right − 1, (2^right − 1) >> 1. It returns nil when a significand is
// negative (then multiplier.apply's saturation could matter).
func requantParams(bias, wZP []int32, mult []multiplier, channels int) []int32 {
	groups := (channels + requantLanes - 1) / requantLanes
	p := make([]int32, groups*requantGroupLen)
	for c := range min(channels, len(mult)) {
		m := mult[c]
		if m.significand < 0 {
			return nil
		}
		g := p[c/requantLanes*requantGroupLen+c%requantLanes:]
		if c < len(bias) {
			g[0] = bias[c]
		}
		if c < len(wZP) {
			g[requantLanes] = wZP[c]
		}
		if m.exponent > 0 {
			g[2*requantLanes] = int32(m.exponent)
		}
		g[3*requantLanes] = m.significand
		if m.exponent < 0 {
			r := int32(-m.exponent)
			g[4*requantLanes] = r
			g[5*requantLanes] = 1<<r - 1
			g[6*requantLanes] = (1<<r - 1) >> 1
		}
	}
	return p
}

// requantGo is the portable requantization of len(out) channels, the
// reference requantAVX2 is tested against: out[c] = clamp(apply(acc[c] +
// bias[c] − wZP[c]·sumX) + outZP).
func requantGo(acc []int32, sumX int32, p []int32, outZP, lo, hi int32, out []int32) {
	for c := range out {
		g := p[c/requantLanes*requantGroupLen+c%requantLanes:]
		x := acc[c] + g[0] - g[requantLanes]*sumX
		m := multiplier{significand: g[3*requantLanes]}
		if l := g[2*requantLanes]; l > 0 {
			m.exponent = int(l)
		} else {
			m.exponent = -int(g[4*requantLanes])
		}
		out[c] = clamp32(m.apply(x)+outZP, lo, hi)
	}
}

// requant requantizes acc into out (both a whole number of groups long,
// len(p) covering them) with the fastest kernel of this machine.
func requant(acc []int32, sumX int32, p []int32, outZP, lo, hi int32, out []int32) {
	groups := len(out) / requantLanes
	if len(out)%requantLanes != 0 || len(acc) < len(out) || len(p) < groups*requantGroupLen {
		clear(out)
		return
	}
	if haveGEMMAsm && groups > 0 {
		requantVec(&acc[0], sumX, &p[0], groups, outZP, lo, hi, &out[0])
		return
	}
	requantGo(acc, sumX, p, outZP, lo, hi, out)
}

// requantBytes requantizes acc into the 8-bit outputs dst (their low
// bytes): whole groups of eight straight into dst, a last partial group
// through tmp (at least requantLanes long). acc and p cover dst rounded up
// to whole groups.
func requantBytes(acc []int32, sumX int32, p []int32, outZP, lo, hi int32, dst []byte, tmp []int32) {
	full := len(dst) / requantLanes
	lanes := (len(dst) + requantLanes - 1) / requantLanes * requantLanes
	if len(acc) < lanes || len(p) < lanes/requantLanes*requantGroupLen || len(tmp) < requantLanes {
		clear(dst)
		return
	}
	if haveGEMMAsm && full > 0 {
		requantBytesVec(&acc[0], sumX, &p[0], full, outZP, lo, hi, &dst[0])
	} else if full > 0 {
		out := tmp[:requantLanes]
		for g := range full {
			requantGo(acc[g*requantLanes:], sumX, p[g*requantGroupLen:], outZP, lo, hi, out)
			for i, v := range out {
				dst[g*requantLanes+i] = byte(v)
			}
		}
	}
	if rest := dst[full*requantLanes:]; len(rest) > 0 {
		out := tmp[:requantLanes]
		requant(acc[full*requantLanes:lanes], sumX, p[full*requantGroupLen:], outZP, lo, hi, out)
		for i := range rest {
			rest[i] = byte(out[i])
		}
	}
}
