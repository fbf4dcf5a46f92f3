//go:build !amd64 && !arm64

package tflite

// requantVec is never called where haveGEMMAsm is false.
func requantVec(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32) {
	panic("tflite: requantVec without vector kernels")
}

// requantBytesVec is never called where haveGEMMAsm is false.
func requantBytesVec(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte) {
	panic("tflite: requantBytesVec without vector kernels")
}
