// Hand-written NEON micro-kernel of the quantized convolution for arm64
// (gemm_arm64.go, reference gemm4x3Go in gemm.go; the amd64 counterpart is
// gemm_amd64.s). gemm4x3NEON needs only ARMv8.0-A (Cortex-A72); gemm4x3UDOT
// takes the dot-product instructions where the CPU has them.
//
// The values are bytes widened to int16; SMLAL/SMLAL2 form each int16
// product exactly in int32 and add it into the accumulator, which wraps
// modulo 2^32 like the sums of the Go version.
//
// Go's arm64 assembler has no SMLAL, ADDP on these arrangements or the
// post-indexed LD1 forms written here, so vector instructions are WORDs
// with the instruction in the comment (encoded by an assembler for AArch64).
// Register use: R0-R10 and V0-V31 are scratch in Go's ABI0.

#include "textflag.h"

// func gemm4x3NEON(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)
//
// V0..V11 accumulate patch j × filter row c in V(3j+c), four int32 lanes
// each; 16 values a row per iteration: patch j in V(16+2j), V(17+2j),
// filter row c in V(24+2c), V(25+2c). SMLAL multiplies the low four
// int16 lanes into int32 and adds, SMLAL2 the high four. Row j's three
// sums (ADDP pairwise) and a zero go to out + j·outStrideBytes.
TEXT ·gemm4x3NEON(SB), NOSPLIT, $0-48
	MOVD p+0(FP), R0
	MOVD w+8(FP), R4
	MOVD strideBytes+16(FP), R10
	MOVD n+24(FP), R7
	MOVD out+32(FP), R8
	MOVD outStrideBytes+40(FP), R9
	ADD  R10, R0, R1 // patch 1
	ADD  R10, R1, R2 // patch 2
	ADD  R10, R2, R3 // patch 3
	ADD  R10, R4, R5 // filter row 1
	ADD  R10, R5, R6 // filter row 2

	WORD $0x6f00e400 // movi v0.2d, #0
	WORD $0x6f00e401 // movi v1.2d, #0
	WORD $0x6f00e402 // movi v2.2d, #0
	WORD $0x6f00e403 // movi v3.2d, #0
	WORD $0x6f00e404 // movi v4.2d, #0
	WORD $0x6f00e405 // movi v5.2d, #0
	WORD $0x6f00e406 // movi v6.2d, #0
	WORD $0x6f00e407 // movi v7.2d, #0
	WORD $0x6f00e408 // movi v8.2d, #0
	WORD $0x6f00e409 // movi v9.2d, #0
	WORD $0x6f00e40a // movi v10.2d, #0
	WORD $0x6f00e40b // movi v11.2d, #0
	LSR  $4, R7, R7 // iterations of 16 values
	CBZ  R7, reduce

loop:
	WORD $0x4cdfa410 // ld1 {v16.8h, v17.8h}, [x0], #32
	WORD $0x4cdfa432 // ld1 {v18.8h, v19.8h}, [x1], #32
	WORD $0x4cdfa454 // ld1 {v20.8h, v21.8h}, [x2], #32
	WORD $0x4cdfa476 // ld1 {v22.8h, v23.8h}, [x3], #32
	WORD $0x4cdfa498 // ld1 {v24.8h, v25.8h}, [x4], #32
	WORD $0x4cdfa4ba // ld1 {v26.8h, v27.8h}, [x5], #32
	WORD $0x4cdfa4dc // ld1 {v28.8h, v29.8h}, [x6], #32
	WORD $0x0e788200 // smlal v0.4s, v16.4h, v24.4h
	WORD $0x0e7a8201 // smlal v1.4s, v16.4h, v26.4h
	WORD $0x0e7c8202 // smlal v2.4s, v16.4h, v28.4h
	WORD $0x0e788243 // smlal v3.4s, v18.4h, v24.4h
	WORD $0x0e7a8244 // smlal v4.4s, v18.4h, v26.4h
	WORD $0x0e7c8245 // smlal v5.4s, v18.4h, v28.4h
	WORD $0x0e788286 // smlal v6.4s, v20.4h, v24.4h
	WORD $0x0e7a8287 // smlal v7.4s, v20.4h, v26.4h
	WORD $0x0e7c8288 // smlal v8.4s, v20.4h, v28.4h
	WORD $0x0e7882c9 // smlal v9.4s, v22.4h, v24.4h
	WORD $0x0e7a82ca // smlal v10.4s, v22.4h, v26.4h
	WORD $0x0e7c82cb // smlal v11.4s, v22.4h, v28.4h
	WORD $0x4e788200 // smlal2 v0.4s, v16.8h, v24.8h
	WORD $0x4e7a8201 // smlal2 v1.4s, v16.8h, v26.8h
	WORD $0x4e7c8202 // smlal2 v2.4s, v16.8h, v28.8h
	WORD $0x4e788243 // smlal2 v3.4s, v18.8h, v24.8h
	WORD $0x4e7a8244 // smlal2 v4.4s, v18.8h, v26.8h
	WORD $0x4e7c8245 // smlal2 v5.4s, v18.8h, v28.8h
	WORD $0x4e788286 // smlal2 v6.4s, v20.8h, v24.8h
	WORD $0x4e7a8287 // smlal2 v7.4s, v20.8h, v26.8h
	WORD $0x4e7c8288 // smlal2 v8.4s, v20.8h, v28.8h
	WORD $0x4e7882c9 // smlal2 v9.4s, v22.8h, v24.8h
	WORD $0x4e7a82ca // smlal2 v10.4s, v22.8h, v26.8h
	WORD $0x4e7c82cb // smlal2 v11.4s, v22.8h, v28.8h
	WORD $0x0e798220 // smlal v0.4s, v17.4h, v25.4h
	WORD $0x0e7b8221 // smlal v1.4s, v17.4h, v27.4h
	WORD $0x0e7d8222 // smlal v2.4s, v17.4h, v29.4h
	WORD $0x0e798263 // smlal v3.4s, v19.4h, v25.4h
	WORD $0x0e7b8264 // smlal v4.4s, v19.4h, v27.4h
	WORD $0x0e7d8265 // smlal v5.4s, v19.4h, v29.4h
	WORD $0x0e7982a6 // smlal v6.4s, v21.4h, v25.4h
	WORD $0x0e7b82a7 // smlal v7.4s, v21.4h, v27.4h
	WORD $0x0e7d82a8 // smlal v8.4s, v21.4h, v29.4h
	WORD $0x0e7982e9 // smlal v9.4s, v23.4h, v25.4h
	WORD $0x0e7b82ea // smlal v10.4s, v23.4h, v27.4h
	WORD $0x0e7d82eb // smlal v11.4s, v23.4h, v29.4h
	WORD $0x4e798220 // smlal2 v0.4s, v17.8h, v25.8h
	WORD $0x4e7b8221 // smlal2 v1.4s, v17.8h, v27.8h
	WORD $0x4e7d8222 // smlal2 v2.4s, v17.8h, v29.8h
	WORD $0x4e798263 // smlal2 v3.4s, v19.8h, v25.8h
	WORD $0x4e7b8264 // smlal2 v4.4s, v19.8h, v27.8h
	WORD $0x4e7d8265 // smlal2 v5.4s, v19.8h, v29.8h
	WORD $0x4e7982a6 // smlal2 v6.4s, v21.8h, v25.8h
	WORD $0x4e7b82a7 // smlal2 v7.4s, v21.8h, v27.8h
	WORD $0x4e7d82a8 // smlal2 v8.4s, v21.8h, v29.8h
	WORD $0x4e7982e9 // smlal2 v9.4s, v23.8h, v25.8h
	WORD $0x4e7b82ea // smlal2 v10.4s, v23.8h, v27.8h
	WORD $0x4e7d82eb // smlal2 v11.4s, v23.8h, v29.8h
	SUBS $1, R7, R7
	BNE  loop

reduce:
	WORD $0x6f00e41f // movi v31.2d, #0
	WORD $0x4ea1bc0c // addp v12.4s, v0.4s, v1.4s
	WORD $0x4ebfbc4d // addp v13.4s, v2.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	WORD $0x4ea4bc6c // addp v12.4s, v3.4s, v4.4s
	WORD $0x4ebfbcad // addp v13.4s, v5.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	WORD $0x4ea7bccc // addp v12.4s, v6.4s, v7.4s
	WORD $0x4ebfbd0d // addp v13.4s, v8.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	WORD $0x4eaabd2c // addp v12.4s, v9.4s, v10.4s
	WORD $0x4ebfbd6d // addp v13.4s, v11.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	RET

// func gemm4x3UDOT(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)
//
// gemm4x3NEON with ARMv8.2's UDOT (FEAT_DotProd: Cortex-A55/A76 and later,
// not the Cortex-A72): the int16 rows are read as bytes, and UDOT adds
// each four bytewise products into an int32 lane. The values are widened
// bytes (0..255), so every high byte is zero and contributes nothing:
// the sums are exactly those of gemm4x3NEON, 8 values per instruction
// instead of 4. Same registers; V0..V11 accumulate.
TEXT ·gemm4x3UDOT(SB), NOSPLIT, $0-48
	MOVD p+0(FP), R0
	MOVD w+8(FP), R4
	MOVD strideBytes+16(FP), R10
	MOVD n+24(FP), R7
	MOVD out+32(FP), R8
	MOVD outStrideBytes+40(FP), R9
	ADD  R10, R0, R1
	ADD  R10, R1, R2
	ADD  R10, R2, R3
	ADD  R10, R4, R5
	ADD  R10, R5, R6

	WORD $0x6f00e400 // movi v0.2d, #0
	WORD $0x6f00e401 // movi v1.2d, #0
	WORD $0x6f00e402 // movi v2.2d, #0
	WORD $0x6f00e403 // movi v3.2d, #0
	WORD $0x6f00e404 // movi v4.2d, #0
	WORD $0x6f00e405 // movi v5.2d, #0
	WORD $0x6f00e406 // movi v6.2d, #0
	WORD $0x6f00e407 // movi v7.2d, #0
	WORD $0x6f00e408 // movi v8.2d, #0
	WORD $0x6f00e409 // movi v9.2d, #0
	WORD $0x6f00e40a // movi v10.2d, #0
	WORD $0x6f00e40b // movi v11.2d, #0
	LSR  $4, R7, R7
	CBZ  R7, dreduce

dloop:
	WORD $0x4cdfa010 // ld1 {v16.16b, v17.16b}, [x0], #32
	WORD $0x4cdfa032 // ld1 {v18.16b, v19.16b}, [x1], #32
	WORD $0x4cdfa054 // ld1 {v20.16b, v21.16b}, [x2], #32
	WORD $0x4cdfa076 // ld1 {v22.16b, v23.16b}, [x3], #32
	WORD $0x4cdfa098 // ld1 {v24.16b, v25.16b}, [x4], #32
	WORD $0x4cdfa0ba // ld1 {v26.16b, v27.16b}, [x5], #32
	WORD $0x4cdfa0dc // ld1 {v28.16b, v29.16b}, [x6], #32
	WORD $0x6e989600 // udot v0.4s, v16.16b, v24.16b
	WORD $0x6e9a9601 // udot v1.4s, v16.16b, v26.16b
	WORD $0x6e9c9602 // udot v2.4s, v16.16b, v28.16b
	WORD $0x6e989643 // udot v3.4s, v18.16b, v24.16b
	WORD $0x6e9a9644 // udot v4.4s, v18.16b, v26.16b
	WORD $0x6e9c9645 // udot v5.4s, v18.16b, v28.16b
	WORD $0x6e989686 // udot v6.4s, v20.16b, v24.16b
	WORD $0x6e9a9687 // udot v7.4s, v20.16b, v26.16b
	WORD $0x6e9c9688 // udot v8.4s, v20.16b, v28.16b
	WORD $0x6e9896c9 // udot v9.4s, v22.16b, v24.16b
	WORD $0x6e9a96ca // udot v10.4s, v22.16b, v26.16b
	WORD $0x6e9c96cb // udot v11.4s, v22.16b, v28.16b
	WORD $0x6e999620 // udot v0.4s, v17.16b, v25.16b
	WORD $0x6e9b9621 // udot v1.4s, v17.16b, v27.16b
	WORD $0x6e9d9622 // udot v2.4s, v17.16b, v29.16b
	WORD $0x6e999663 // udot v3.4s, v19.16b, v25.16b
	WORD $0x6e9b9664 // udot v4.4s, v19.16b, v27.16b
	WORD $0x6e9d9665 // udot v5.4s, v19.16b, v29.16b
	WORD $0x6e9996a6 // udot v6.4s, v21.16b, v25.16b
	WORD $0x6e9b96a7 // udot v7.4s, v21.16b, v27.16b
	WORD $0x6e9d96a8 // udot v8.4s, v21.16b, v29.16b
	WORD $0x6e9996e9 // udot v9.4s, v23.16b, v25.16b
	WORD $0x6e9b96ea // udot v10.4s, v23.16b, v27.16b
	WORD $0x6e9d96eb // udot v11.4s, v23.16b, v29.16b
	SUBS $1, R7, R7
	BNE  dloop

dreduce:
	WORD $0x6f00e41f // movi v31.2d, #0
	WORD $0x4ea1bc0c // addp v12.4s, v0.4s, v1.4s
	WORD $0x4ebfbc4d // addp v13.4s, v2.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	WORD $0x4ea4bc6c // addp v12.4s, v3.4s, v4.4s
	WORD $0x4ebfbcad // addp v13.4s, v5.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	WORD $0x4ea7bccc // addp v12.4s, v6.4s, v7.4s
	WORD $0x4ebfbd0d // addp v13.4s, v8.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	WORD $0x4eaabd2c // addp v12.4s, v9.4s, v10.4s
	WORD $0x4ebfbd6d // addp v13.4s, v11.4s, v31.4s
	WORD $0x4eadbd8c // addp v12.4s, v12.4s, v13.4s
	WORD $0x4c00790c // st1 {v12.4s}, [x8]
	ADD  R9, R8, R8
	RET
