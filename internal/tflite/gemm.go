package tflite

// gemmRows is the number of patches and gemmCols the number of filter rows
// one call of the 4x3 micro-kernel multiplies; gemmAlign is the multiple of
// int16 values that patch and filter rows are padded to with zeros.
const (
	gemmRows  = 4
	gemmCols  = 3
	gemmAlign = 16
)

// gemm4x3Go is the portable micro-kernel of the widened quantized
// convolution: out[j*outStride+c] = Σ_i p[j*stride+i]·w[c*stride+i] for
// i < n, four patches j and three filter rows c, stride values apart, and
// out[j*outStride+3] = 0 (the assembly version stores four values a row). Sums wrap modulo
// 2^32 exactly as the vector instructions do; callers read them as uint32.
// It is the reference the assembly version is tested against and the
// kernel on machines without one.
func gemm4x3Go(p, w []int16, stride, n int, out []int32, outStride int) {
	p0, p1, p2, p3 := p[:n], p[stride:][:n], p[2*stride:][:n], p[3*stride:][:n]
	w0, w1, w2 := w[:n], w[stride:][:n], w[2*stride:][:n]
	var s [12]int32
	for i := range n {
		a, b, c := int32(w0[i]), int32(w1[i]), int32(w2[i])
		x0, x1, x2, x3 := int32(p0[i]), int32(p1[i]), int32(p2[i]), int32(p3[i])
		s[0] += x0 * a
		s[1] += x0 * b
		s[2] += x0 * c
		s[3] += x1 * a
		s[4] += x1 * b
		s[5] += x1 * c
		s[6] += x2 * a
		s[7] += x2 * b
		s[8] += x2 * c
		s[9] += x3 * a
		s[10] += x3 * b
		s[11] += x3 * c
	}
	for j := range gemmRows {
		o := out[j*outStride:][:gemmCols+1]
		o[0], o[1], o[2], o[3] = s[3*j], s[3*j+1], s[3*j+2], 0
	}
}

// gemmFits reports whether p and w hold what a 4x3 call with this stride
// and n reads, n is a whole number of vectors, and out holds the four
// values a row it writes.
func gemmFits(p, w []int16, stride, n int, out []int32, outStride int) bool {
	return n >= 0 && n%gemmAlign == 0 && stride >= n && outStride >= gemmCols &&
		len(p) >= (gemmRows-1)*stride+n && len(w) >= (gemmCols-1)*stride+n &&
		len(out) >= (gemmRows-1)*outStride+gemmCols+1
}
