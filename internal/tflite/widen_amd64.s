// Hand-written AVX2 widening of convolution patches (widen_amd64.go; the
// Go loop of widenGo in widen.go is the reference it is tested against):
// bytes XOR flip, zero-extended to int16, and their sum.

#include "textflag.h"

// func widenAVX2(src *byte, n int, flip byte, dst *int16) (sum int32)
//
// n is a multiple of 16. VPSADBW against zero sums each eight bytes into a
// 64-bit lane.
TEXT ·widenAVX2(SB), NOSPLIT, $0-36
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	MOVBLZX flip+16(FP), AX
	MOVQ dst+24(FP), DI
	MOVQ AX, X15
	VPBROADCASTB X15, X15
	VPXOR X14, X14, X14
	VPXOR X3, X3, X3
	XORQ AX, AX
	TESTQ CX, CX
	JZ   done

loop:
	VMOVDQU   (SI)(AX*1), X0
	VPXOR     X15, X0, X0
	VPMOVZXBW X0, Y1
	VMOVDQU   Y1, (DI)(AX*2)
	VPSADBW   X14, X0, X2
	VPADDQ    X2, X3, X3
	ADDQ      $16, AX
	CMPQ      AX, CX
	JLT       loop

done:
	VPSHUFD $0x4e, X3, X2
	VPADDQ  X2, X3, X3
	MOVQ    X3, AX
	MOVL    AX, sum+32(FP)
	VZEROUPPER
	RET
