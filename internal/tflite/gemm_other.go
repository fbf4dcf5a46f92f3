//go:build !amd64 && !arm64

package tflite

// haveGEMMAsm, useVNNI, useUDOT: no assembly micro-kernel for this architecture; quantized
// convolutions use the packed pure-Go kernel (conv_packed.go).
var haveGEMMAsm, useVNNI, useUDOT = false, false, false

// gemm4x3 is gemm4x3Go on architectures without an assembly kernel.
func gemm4x3(p, w []int16, stride, n int, out []int32, outStride int) {
	if !gemmFits(p, w, stride, n, out, outStride) {
		return
	}
	gemm4x3Go(p, w, stride, n, out, outStride)
}
