//go:build !amd64

package tflite

// requantAVX2 is never called where haveGEMMAsm is false.
func requantAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32) {
	panic("tflite: requantAVX2 without AVX2")
}

// requantBytesAVX2 is never called where haveGEMMAsm is false.
func requantBytesAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte) {
	panic("tflite: requantBytesAVX2 without AVX2")
}
