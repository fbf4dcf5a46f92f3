package tflite

// haveGEMMAsm: the NEON kernels run; every arm64 CPU has Advanced SIMD
// (ARMv8-A), so they always do. useVNNI is amd64's and stays false.
var haveGEMMAsm, useVNNI = true, false

// gemm4x3NEON is gemm4x3Go in NEON (gemm_arm64.s): strideBytes and
// outStrideBytes are the distances between rows in bytes, n a multiple of 16.
//
//go:noescape
func gemm4x3NEON(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)

// gemm4x3 is the NEON 4x3 micro-kernel (gemm4x3Go while haveGEMMAsm is
// switched off). It writes nothing when the slices do not fit (gemmFits);
// callers size them.
func gemm4x3(p, w []int16, stride, n int, out []int32, outStride int) {
	if !gemmFits(p, w, stride, n, out, outStride) {
		return
	}
	if haveGEMMAsm && n > 0 {
		gemm4x3NEON(&p[0], &w[0], 2*stride, n, &out[0], 4*outStride)
		return
	}
	gemm4x3Go(p, w, stride, n, out, outStride)
}
