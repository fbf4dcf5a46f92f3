package tflite

// depthwise3x3U8AVX2 and depthwise3x3S8AVX2 (depthwise_amd64.s) compute
// eight channels per group of a 3x3 depthwise window inside the input: x is
// the top-left tap of the first channel, xStep and yStep the byte distances
// to the next tap in a row and the next row, w the interleaved taps and
// bias (depthwise3x3Interleave), acc groups·8 int32.
//
//go:noescape
func depthwise3x3U8AVX2(x *byte, xStep, yStep int, w, acc *int32, groups int)

//go:noescape
func depthwise3x3S8AVX2(x *byte, xStep, yStep int, w, acc *int32, groups int)

// depthwise3x3Asm computes the first groups·8 accumulators of a window with
// the assembly kernel and reports how many it did (0 without AVX2).
// in[x0:] must hold the whole window of those channels.
func depthwise3x3Asm(in []byte, x0, xStep, yStep int, signed bool, w, acc []int32) int {
	groups := len(w) / depthwiseGroupLen
	n := groups * depthwiseLanes
	if !haveGEMMAsm || groups == 0 || len(acc) < n || x0 < 0 || x0+2*xStep+2*yStep+n > len(in) {
		return 0
	}
	if signed {
		depthwise3x3S8AVX2(&in[x0], xStep, yStep, &w[0], &acc[0], groups)
	} else {
		depthwise3x3U8AVX2(&in[x0], xStep, yStep, &w[0], &acc[0], groups)
	}
	return n
}
