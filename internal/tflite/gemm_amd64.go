package tflite

import "golang.org/x/sys/cpu"

// haveGEMMAsm: the AVX2 kernels run on this CPU; useVNNI: the convolution
// micro-kernel takes AVX-512 VNNI's VPDPWSSD (on 256-bit vectors).
// useUDOT is arm64's and stays false.
var (
	haveGEMMAsm = cpu.X86.HasAVX2
	useVNNI     = haveGEMMAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
	useUDOT     = false
)

// gemm4x3AVX2 is gemm4x3Go in AVX2 (gemm_amd64.s): strideBytes and
// outStrideBytes are the distances between rows in bytes, n a multiple of 16.
//
// gemm4x3VNNI is gemm4x3AVX2 with VPDPWSSD.
//
//go:noescape
func gemm4x3VNNI(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)

//go:noescape
func gemm4x3AVX2(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)

// gemm4x3 is the fastest 4x3 micro-kernel of this machine. It writes
// nothing when the slices do not fit (gemmFits); callers size them.
func gemm4x3(p, w []int16, stride, n int, out []int32, outStride int) {
	if !gemmFits(p, w, stride, n, out, outStride) {
		return
	}
	if useVNNI && n > 0 {
		gemm4x3VNNI(&p[0], &w[0], 2*stride, n, &out[0], 4*outStride)
		return
	}
	if haveGEMMAsm && n > 0 {
		gemm4x3AVX2(&p[0], &w[0], 2*stride, n, &out[0], 4*outStride)
		return
	}
	gemm4x3Go(p, w, stride, n, out, outStride)
}
