package tflite

// depthwise3x3U8NEON and depthwise3x3S8NEON (depthwise_arm64.s) compute
// eight channels per group of a 3x3 depthwise window inside the input, as
// depthwise3x3U8AVX2 and depthwise3x3S8AVX2 do on amd64: x is the top-left
// tap of the first channel, xStep and yStep the byte distances to the next
// tap in a row and the next row, w the interleaved taps and bias
// (depthwise3x3Interleave), acc groups·8 int32.
//
//go:noescape
func depthwise3x3U8NEON(x *byte, xStep, yStep int, w, acc *int32, groups int)

//go:noescape
func depthwise3x3S8NEON(x *byte, xStep, yStep int, w, acc *int32, groups int)

// depthwise3x3Asm computes the first groups·8 accumulators of a window with
// the NEON kernel and reports how many it did (0 while haveGEMMAsm is
// switched off). in[x0:] must hold the whole window of those channels.
func depthwise3x3Asm(in []byte, x0, xStep, yStep int, signed bool, w, acc []int32) int {
	groups := len(w) / depthwiseGroupLen
	n := groups * depthwiseLanes
	if !haveGEMMAsm || groups == 0 || len(acc) < n || x0 < 0 || xStep < 0 || yStep < 0 || x0+2*xStep+2*yStep+n > len(in) {
		return 0
	}
	if signed {
		depthwise3x3S8NEON(&in[x0], xStep, yStep, &w[0], &acc[0], groups)
	} else {
		depthwise3x3U8NEON(&in[x0], xStep, yStep, &w[0], &acc[0], groups)
	}
	return n
}
