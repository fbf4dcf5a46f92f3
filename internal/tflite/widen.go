package tflite

// widen writes src's bytes XOR flip, zero-extended, into dst (at least as
// long) and returns their sum: a convolution patch moved to the unsigned
// domain and widened for the int16 micro-kernel.
func widen(src []byte, flip byte, dst []int16) int32 {
	if len(dst) < len(src) {
		return 0
	}
	var s int32
	head := 0
	if haveGEMMAsm {
		head = len(src) / 16 * 16
		if head > 0 {
			s = widenVec(&src[0], head, flip, &dst[0])
		}
	}
	return s + widenGo(src[head:], flip, dst[head:])
}

// widenGo is widen in Go.
func widenGo(src []byte, flip byte, dst []int16) int32 {
	dst = dst[:len(src)]
	var s int32
	for i, v := range src {
		u := v ^ flip
		dst[i] = int16(u)
		s += int32(u)
	}
	return s
}
