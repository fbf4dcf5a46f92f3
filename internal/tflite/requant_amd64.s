// Hand-written AVX2 requantization of int32 accumulators to output values
// (requant_amd64.go; requantGo in requant.go is the reference it is tested
// against): per channel c, x = acc + bias[c] − wZP[c]·sumX, then TFLite's
// MultiplyByQuantizedMultiplier (left shift, SaturatingRoundingDoublingHighMul
// with a non-negative significand, RoundingDivideByPOT), + outZP, clamped.
// The 64-bit products are formed for even and odd lanes with VPMULDQ; bits
// 31..62 of product + 2^30 are the high multiplication's result.

#include "textflag.h"

// Parameter block per group of eight channels: bias, wZP, left, sig,
// right, mask = 2^right − 1, mask >> 1, 32 bytes each.

#define REQUANT(STORE) \
	MOVQ acc+0(FP), SI \
	MOVL sumX+8(FP), AX \
	MOVQ AX, X15 \
	VPBROADCASTD X15, Y15 \
	MOVQ p+16(FP), DI \
	MOVQ groups+24(FP), CX \
	MOVL outZP+32(FP), AX \
	MOVQ AX, X13 \
	VPBROADCASTD X13, Y13 \
	MOVL lo+36(FP), AX \
	MOVQ AX, X12 \
	VPBROADCASTD X12, Y12 \
	MOVL hi+40(FP), AX \
	MOVQ AX, X11 \
	VPBROADCASTD X11, Y11 \
	MOVQ out+48(FP), DX \
	MOVQ $0x40000000, AX \
	MOVQ AX, X14 \
	VPBROADCASTQ X14, Y14 \
	XORQ AX, AX \
	XORQ BX, BX \
	TESTQ CX, CX \
	JZ   done \
loop: \
	VMOVDQU (SI)(AX*1), Y0 \
	VPADDD  0(DI), Y0, Y0 \
	VPMULLD 32(DI), Y15, Y1 \
	VPSUBD  Y1, Y0, Y0 \
	VPSLLVD 64(DI), Y0, Y0 \
	VMOVDQU 96(DI), Y3 \
	VPMULDQ Y3, Y0, Y2 \
	VPSRLQ  $32, Y0, Y4 \
	VPSRLQ  $32, Y3, Y5 \
	VPMULDQ Y5, Y4, Y4 \
	VPADDQ  Y14, Y2, Y2 \
	VPADDQ  Y14, Y4, Y4 \
	VPSRLQ  $31, Y2, Y2 \
	VPSLLQ  $1, Y4, Y4 \
	VPBLENDD $0xAA, Y4, Y2, Y0 \
	VPAND    160(DI), Y0, Y1 \
	VPSRAD   $31, Y0, Y2 \
	VMOVDQU  192(DI), Y3 \
	VPSUBD   Y2, Y3, Y3 \
	VPCMPGTD Y3, Y1, Y1 \
	VPSRAVD  128(DI), Y0, Y0 \
	VPSUBD   Y1, Y0, Y0 \
	VPADDD  Y13, Y0, Y0 \
	VPMAXSD Y12, Y0, Y0 \
	VPMINSD Y11, Y0, Y0 \
	STORE \
	ADDQ $32, AX \
	ADDQ $8, BX \
	ADDQ $224, DI \
	DECQ CX \
	JNZ  loop \
done: \
	VZEROUPPER \
	RET

// Eight int32 results a row.
#define STORE_INT32 VMOVDQU Y0, (DX)(AX*1)

// Byte 0 of each value (they are clamped to an 8-bit range): VPSHUFB with
// 0x0c080400 in every dword of Y10 gathers them per 128-bit half, then the
// halves' first dwords are joined and 8 bytes stored.
#define STORE_BYTES \
	VPSHUFB Y10, Y0, Y0 \
	VEXTRACTI128 $1, Y0, X1 \
	VPUNPCKLDQ X1, X0, X0 \
	MOVQ X0, (DX)(BX*1)

// func requantAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32)
TEXT ·requantAVX2(SB), NOSPLIT, $0-56
	REQUANT(STORE_INT32)

// func requantBytesAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte)
TEXT ·requantBytesAVX2(SB), NOSPLIT, $0-56
	MOVL $0x0c080400, AX
	MOVQ AX, X10
	VPBROADCASTD X10, Y10
	REQUANT(STORE_BYTES)
