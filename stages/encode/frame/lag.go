package frame

import "encoding/binary"

// The lag transforms (decimal-lag and grid-lag) code the scaled integers of
// the decimal and grid transforms against the value one period earlier,
// k[i] − k[i−L], instead of the previous one: readings of a process with a
// daily or hourly rhythm (a job that runs every hour, a load that follows
// the day) repeat at that lag far better than from one reading to the next.
// The first L integers are delta coded as usual. The encoder derives the
// candidate lags from the frame's timestamps alone (one hour, one day and one
// week in readings at the median interval, each only when the frame holds at
// least two periods), estimates on a sample whether the best of them can
// beat the deltas, and keeps the lag transform only when it is smaller.
//
// The encoder tries the lags in bounded-error mode only. On the lossless path
// they would shrink NAB cpu_utilization from 17.50 to 15.91 bits/value, but
// even with the residuals decoded and converted in one BMI2 loop, as the
// deltas are, those frames encoded about 9% and decoded about 7% slower, and
// the lossless speed targets (docs/benchmarks.md) have no room for that.

// The periods the lag candidates stand for, in nanoseconds.
var lagPeriods = [...]int64{3600e9, 86400e9, 7 * 86400e9}

// lagIntervalSamples is how many intervals between timestamps the median
// interval is taken from.
const lagIntervalSamples = 9

// lagSamples is about how many integers chooseLag compares per candidate.
const lagSamples = 128

// lagCandidates returns the candidate lags for a frame with timestamps ts:
// the hour, day and week in readings at the median interval between
// timestamps (estimated from a few intervals spread over the frame), each
// when it is at least 2 readings and the frame holds at least two of it.
func lagCandidates(ts []int64) (lags [len(lagPeriods)]int, count int) {
	n := len(ts)
	if n < 4 {
		return lags, 0
	}
	var iv [lagIntervalSamples]int64
	m := min(lagIntervalSamples, n-1)
	for j := range m {
		i := 1 + j*(n-1)/m
		d := ts[i] - ts[i-1]
		// Insertion sort: the samples are few.
		p := j
		for ; p > 0 && iv[p-1] > d; p-- {
			iv[p] = iv[p-1]
		}
		iv[p] = d
	}
	interval := iv[m/2]
	if interval <= 0 {
		return lags, 0
	}
	for _, period := range lagPeriods {
		l := (period + interval/2) / interval
		if l < 2 || l > int64(n/2) {
			continue
		}
		if count > 0 && lags[count-1] == int(l) {
			continue
		}
		lags[count] = int(l)
		count++
	}
	return lags, count
}

// What chooseLag advises.
const (
	lagNo    = iota // code the deltas
	lagMaybe        // close enough to code both and keep the smaller
	lagYes          // the lag is clearly smaller: code only it
)

// chooseLag picks the candidate lag (from Encode's e.lags) whose residuals
// k[i] − k[i−L] are smallest on a sample of the integers in e.ks, and tells
// whether it is worth coding: a Rice code's size follows the mean magnitude
// of what it codes, so the sums of the zigzag residuals and of the zigzag
// deltas at the same positions are compared. Below half the deltas' sum the
// lag saves about a bit per value or more on most of the frame.
func (e *Encoder) chooseLag() (lag, advice int) {
	ks, kDeltas := e.ks, e.kDeltas
	n := len(ks)
	best, bestRatio := 0, 1.0
	for _, l := range e.lags[:e.nlags] {
		if 2*l > n {
			continue
		}
		// A stride sharing no factor with the lag visits every phase of
		// the period (a stride of 15 against a lag of 12 would see only
		// 4 of the 12 readings of each hour).
		stride := max(1, (n-l)/lagSamples)
		for gcd(stride, l) != 1 {
			stride++
		}
		var sumLag, sumDelta uint64
		for i, j := l, 0; i < n; i, j = i+stride, j+1 {
			if j == lagSamples/4 && sumLag > 2*sumDelta {
				break // clearly worse than the deltas: no need to look further
			}
			sumLag += min(zigzag(ks[i]-ks[i-l]), 1<<32)
			sumDelta += min(kDeltas[i], 1<<32)
		}
		if ratio := float64(sumLag) / float64(sumDelta); ratio < bestRatio {
			best, bestRatio = l, ratio
		}
	}
	switch {
	case best == 0 || bestRatio >= 0.95:
		return 0, lagNo
	case bestRatio < 0.5:
		return best, lagYes
	}
	return best, lagMaybe
}

// appendScaledBest writes head (the decimal count or the grid step) and the
// integers and corrections of e.ks and e.cs, delta coded (transform plain)
// or, when chooseLag says it pays, coded against the lag (transform lagged),
// whichever is smaller; it returns the transform written.
func (e *Encoder) appendScaledBest(dst, head []byte, plain, lagged uint8) ([]byte, uint8) {
	mark := len(dst)
	lag, advice := lagNo, lagNo
	if e.nlags > 0 {
		lag, advice = e.chooseLag()
	}
	if advice != lagYes {
		dst = append(dst, head...)
		dst = e.appendScaledInts(dst)
		if advice == lagNo {
			return dst, plain
		}
	}
	alt := append(e.lagBuf[:0], head...)
	alt = e.appendLagInts(alt, lag)
	e.lagBuf = alt
	if advice == lagYes || len(alt) < len(dst)-mark {
		return append(dst[:mark], alt...), lagged
	}
	return dst, plain
}

// appendLagInts writes the lag L, the first integer, the residuals
// k[i] − k[i−1] (i < L) and k[i] − k[i−L] (i ≥ L) of e.ks, and the
// corrections.
func (e *Encoder) appendLagInts(dst []byte, lag int) []byte {
	ks := e.ks
	n := len(ks)
	dst = binary.AppendUvarint(dst, uint64(lag))
	dst = binary.AppendUvarint(dst, zigzag(ks[0]))
	res := grow(e.lagRes, n-1)
	e.lagRes = res
	copy(res[:lag-1], e.kDeltas[1:lag])
	for i := lag; i < n; i++ {
		res[i-1] = zigzag(ks[i] - ks[i-lag])
	}
	dst = e.appendInts(dst, res)
	return e.appendCorrections(dst)
}

// readLagged decodes the rest of a decimal-lag or grid-lag section (after
// the decimal count or the step): the lag, the first integer, the residuals,
// the corrections. Each integer is the residual plus the previous integer
// (before the lag) or the integer one lag back; vals[i] is k[i] / scale
// (divide) or k[i] × scale.
func (d *Decoder) readLagged(src []byte, scale float64, divide bool, vals []float64) ([]byte, error) {
	n := len(vals)
	lag, l := binary.Uvarint(src)
	if l <= 0 || lag < 2 || lag >= uint64(n) {
		return nil, corruptf("lag values: lag must be 2 to %d (count − 1)", n-1)
	}
	src = src[l:]
	u, l := binary.Uvarint(src)
	if l <= 0 {
		return nil, corruptf("lag values: bad first integer")
	}
	src = src[l:]
	zs := grow(d.zs, n-1)
	d.zs = zs
	src, err := d.readInts(src, zs)
	if err != nil {
		return nil, err
	}
	ks := grow(d.ks, n)
	d.ks = ks
	k := unzigzag(u)
	L := int(lag)
	ks[0] = k
	vals[0] = scaled(k, scale, divide)
	for i := 1; i < L; i++ {
		k += unzigzag(zs[i-1])
		ks[i] = k
		vals[i] = scaled(k, scale, divide)
	}
	// From L on, one loop per conversion over slices the compiler can see
	// the bounds of; back[i] is ks[i], written L steps earlier.
	back, cur, res, out := ks[:n-L], ks[L:n], zs[L-1:n-1], vals[L:n]
	if divide {
		for i := range cur {
			k := back[i] + unzigzag(res[i])
			cur[i] = k
			out[i] = float64(k) / scale
		}
	} else {
		for i := range cur {
			k := back[i] + unzigzag(res[i])
			cur[i] = k
			out[i] = float64(k) * scale
		}
	}
	return d.readCorrections(src, vals)
}

// scaled is k / scale (divide) or k × scale.
func scaled(k int64, scale float64, divide bool) float64 {
	if divide {
		return float64(k) / scale
	}
	return float64(k) * scale
}

// gcd is the greatest common divisor of a, b > 0.
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
