package tflite

import "golang.org/x/sys/cpu"

// haveGEMMAsm: the NEON kernels run; every arm64 CPU has Advanced SIMD
// (ARMv8-A), so they always do. useUDOT: the convolution micro-kernel takes
// ARMv8.2's UDOT where the CPU has the dot-product instructions (HWCAP
// asimddp: Cortex-A55, A76 and later; a Raspberry Pi 4's A72 has not).
// useVNNI is amd64's and stays false.
var (
	haveGEMMAsm = true
	useUDOT     = cpu.ARM64.HasASIMDDP
	useVNNI     = false
)

// gemm4x3NEON is gemm4x3Go in NEON (gemm_arm64.s): strideBytes and
// outStrideBytes are the distances between rows in bytes, n a multiple of 16.
//
// gemm4x3UDOT is gemm4x3NEON with UDOT, for values in 0..255 only (it
// multiplies the int16 values' bytes).
//
//go:noescape
func gemm4x3NEON(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)

//go:noescape
func gemm4x3UDOT(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)

// gemm4x3 is the fastest 4x3 micro-kernel of this CPU (gemm4x3Go while
// haveGEMMAsm is switched off). The values must be widened bytes (0..255),
// as the convolution's are, for the UDOT kernel. It writes nothing when the
// slices do not fit (gemmFits); callers size them.
func gemm4x3(p, w []int16, stride, n int, out []int32, outStride int) {
	if !gemmFits(p, w, stride, n, out, outStride) {
		return
	}
	if useUDOT && haveGEMMAsm && n > 0 {
		gemm4x3UDOT(&p[0], &w[0], 2*stride, n, &out[0], 4*outStride)
		return
	}
	if haveGEMMAsm && n > 0 {
		gemm4x3NEON(&p[0], &w[0], 2*stride, n, &out[0], 4*outStride)
		return
	}
	gemm4x3Go(p, w, stride, n, out, outStride)
}
