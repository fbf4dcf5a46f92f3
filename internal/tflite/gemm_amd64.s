// Hand-written AVX2 micro-kernel of the quantized convolution
// (gemm_amd64.go, reference gemm4x3Go in gemm.go).
//
// The values are bytes widened to int16 (0..255), so VPMADDWD's pairwise
// products summed into int32 are exact (2·255·255 < 2^31) and VPADDD wraps
// modulo 2^32 like the uint32 sums of the Go version.

#include "textflag.h"

// func gemm4x3AVX2(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)
//
// Y0..Y11 accumulate patch j × filter row c in Y(3j+c); Y12 holds the
// filter vector, Y13 the products. Row j's three sums and a zero go to
// out + j·outStrideBytes (16 bytes).
TEXT ·gemm4x3AVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ strideBytes+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	MOVQ outStrideBytes+40(FP), R13

	LEAQ (SI)(BX*1), R8  // patch 1
	LEAQ (SI)(BX*2), R9  // patch 2
	LEAQ (R8)(BX*2), R10 // patch 3
	LEAQ (DI)(BX*1), R11 // filter row 1
	LEAQ (DI)(BX*2), R12 // filter row 2

	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11

	SHLQ $1, CX // bytes
	XORQ AX, AX
	TESTQ CX, CX
	JZ   reduce

loop:
	VMOVDQU (DI)(AX*1), Y12
	VPMADDWD (SI)(AX*1), Y12, Y13
	VPADDD   Y13, Y0, Y0
	VPMADDWD (R8)(AX*1), Y12, Y13
	VPADDD   Y13, Y3, Y3
	VPMADDWD (R9)(AX*1), Y12, Y13
	VPADDD   Y13, Y6, Y6
	VPMADDWD (R10)(AX*1), Y12, Y13
	VPADDD   Y13, Y9, Y9

	VMOVDQU (R11)(AX*1), Y12
	VPMADDWD (SI)(AX*1), Y12, Y13
	VPADDD   Y13, Y1, Y1
	VPMADDWD (R8)(AX*1), Y12, Y13
	VPADDD   Y13, Y4, Y4
	VPMADDWD (R9)(AX*1), Y12, Y13
	VPADDD   Y13, Y7, Y7
	VPMADDWD (R10)(AX*1), Y12, Y13
	VPADDD   Y13, Y10, Y10

	VMOVDQU (R12)(AX*1), Y12
	VPMADDWD (SI)(AX*1), Y12, Y13
	VPADDD   Y13, Y2, Y2
	VPMADDWD (R8)(AX*1), Y12, Y13
	VPADDD   Y13, Y5, Y5
	VPMADDWD (R9)(AX*1), Y12, Y13
	VPADDD   Y13, Y8, Y8
	VPMADDWD (R10)(AX*1), Y12, Y13
	VPADDD   Y13, Y11, Y11

	ADDQ $32, AX
	CMPQ AX, CX
	JLT  loop

reduce:
	// Patch j's three accumulators and a zero → one xmm of their sums.
	VPXOR Y13, Y13, Y13

	VPHADDD Y1, Y0, Y0
	VPHADDD Y13, Y2, Y2
	VPHADDD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD  X1, X0, X0
	VMOVDQU X0, (DX)
	ADDQ    R13, DX

	VPHADDD Y4, Y3, Y3
	VPHADDD Y13, Y5, Y5
	VPHADDD Y5, Y3, Y3
	VEXTRACTI128 $1, Y3, X4
	VPADDD  X4, X3, X3
	VMOVDQU X3, (DX)
	ADDQ    R13, DX

	VPHADDD Y7, Y6, Y6
	VPHADDD Y13, Y8, Y8
	VPHADDD Y8, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD  X7, X6, X6
	VMOVDQU X6, (DX)
	ADDQ    R13, DX

	VPHADDD Y10, Y9, Y9
	VPHADDD Y13, Y11, Y11
	VPHADDD Y11, Y9, Y9
	VEXTRACTI128 $1, Y9, X10
	VPADDD  X10, X9, X9
	VMOVDQU X9, (DX)

	VZEROUPPER
	RET

// func gemm4x3VNNI(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)
//
// gemm4x3AVX2 with AVX-512 VNNI's VPDPWSSD on 256-bit vectors (EVEX, so
// Y16..Y22 hold the four patch and three filter vectors): the pairwise
// products and their sum into the accumulator in one instruction, exact
// and wrapping like VPMADDWD then VPADDD.
TEXT ·gemm4x3VNNI(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ strideBytes+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	MOVQ outStrideBytes+40(FP), R13

	LEAQ (SI)(BX*1), R8  // patch 1
	LEAQ (SI)(BX*2), R9  // patch 2
	LEAQ (R8)(BX*2), R10 // patch 3
	LEAQ (DI)(BX*1), R11 // filter row 1
	LEAQ (DI)(BX*2), R12 // filter row 2

	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11

	SHLQ $1, CX // bytes
	XORQ AX, AX
	TESTQ CX, CX
	JZ   vreduce

vloop:
	VMOVDQU32 (SI)(AX*1), Y16
	VMOVDQU32 (R8)(AX*1), Y17
	VMOVDQU32 (R9)(AX*1), Y18
	VMOVDQU32 (R10)(AX*1), Y19
	VMOVDQU32 (DI)(AX*1), Y20
	VMOVDQU32 (R11)(AX*1), Y21
	VMOVDQU32 (R12)(AX*1), Y22
	VPDPWSSD Y20, Y16, Y0
	VPDPWSSD Y21, Y16, Y1
	VPDPWSSD Y22, Y16, Y2
	VPDPWSSD Y20, Y17, Y3
	VPDPWSSD Y21, Y17, Y4
	VPDPWSSD Y22, Y17, Y5
	VPDPWSSD Y20, Y18, Y6
	VPDPWSSD Y21, Y18, Y7
	VPDPWSSD Y22, Y18, Y8
	VPDPWSSD Y20, Y19, Y9
	VPDPWSSD Y21, Y19, Y10
	VPDPWSSD Y22, Y19, Y11
	ADDQ $32, AX
	CMPQ AX, CX
	JLT  vloop

vreduce:
	// Patch j's three accumulators and a zero → one xmm of their sums.
	VPXOR Y13, Y13, Y13

	VPHADDD Y1, Y0, Y0
	VPHADDD Y13, Y2, Y2
	VPHADDD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD  X1, X0, X0
	VMOVDQU X0, (DX)
	ADDQ    R13, DX

	VPHADDD Y4, Y3, Y3
	VPHADDD Y13, Y5, Y5
	VPHADDD Y5, Y3, Y3
	VEXTRACTI128 $1, Y3, X4
	VPADDD  X4, X3, X3
	VMOVDQU X3, (DX)
	ADDQ    R13, DX

	VPHADDD Y7, Y6, Y6
	VPHADDD Y13, Y8, Y8
	VPHADDD Y8, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD  X7, X6, X6
	VMOVDQU X6, (DX)
	ADDQ    R13, DX

	VPHADDD Y10, Y9, Y9
	VPHADDD Y13, Y11, Y11
	VPHADDD Y11, Y9, Y9
	VEXTRACTI128 $1, Y9, X10
	VPADDD  X10, X9, X9
	VMOVDQU X9, (DX)

	VZEROUPPER
	RET
