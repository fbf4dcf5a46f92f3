// Hand-written NEON widening of convolution patches for arm64
// (widen_arm64.go; the Go loop of widenGo in widen.go is the reference it
// is tested against): bytes XOR flip, zero-extended to int16, and their sum.
// Vector instructions are WORDs with the instruction in the comment (see
// gemm_arm64.s).

#include "textflag.h"

// func widenNEON(src *byte, n int, flip byte, dst *int16) (sum int32)
//
// n is a multiple of 16. V31 holds flip in every byte, V30 four int32
// partial sums (UADALP adds the eight halfword sums pairwise).
TEXT ·widenNEON(SB), NOSPLIT, $0-36
	MOVD  src+0(FP), R0
	MOVD  n+8(FP), R1
	MOVBU flip+16(FP), R2
	MOVD  dst+24(FP), R3
	WORD $0x4e010c5f // dup v31.16b, w2
	WORD $0x6f00e41e // movi v30.2d, #0
	LSR   $4, R1, R1
	CBZ   R1, done

loop:
	WORD $0x4cdf7000 // ld1 {v0.16b}, [x0], #16
	WORD $0x6e3f1c00 // eor v0.16b, v0.16b, v31.16b
	WORD $0x2f08a401 // ushll v1.8h, v0.8b, #0
	WORD $0x6f08a402 // ushll2 v2.8h, v0.16b, #0
	WORD $0x4c9fa461 // st1 {v1.8h, v2.8h}, [x3], #32
	WORD $0x4e628423 // add v3.8h, v1.8h, v2.8h
	WORD $0x6e60687e // uadalp v30.4s, v3.8h
	SUBS  $1, R1, R1
	BNE   loop

done:
	WORD $0x4eb1bbde // addv s30, v30.4s
	WORD $0x1e2603c4 // fmov w4, s30
	MOVW  R4, sum+32(FP)
	RET
