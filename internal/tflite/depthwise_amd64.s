// Hand-written AVX2 kernel of the quantized 3x3 depthwise convolution for
// pixels whose window lies inside the input (depthwise_amd64.go; the Go
// loop in depthwise.go's inside3x3 is the reference it is tested against).
//
// Eight channels at a time: the nine input bytes are widened to int32
// (zero- or sign-extended), multiplied by the offset filter taps (int32,
// exact: |x·w| < 2^17) and added to the folded bias. w holds per group of
// eight channels the nine tap vectors, then the bias vector (320 bytes).

#include "textflag.h"

#define TAP(ext, ptr, disp) \
	ext     (ptr)(AX*1), Y1 \
	VPMULLD disp(DI), Y1, Y1 \
	VPADDD  Y1, Y0, Y0

#define BODY(ext) \
	MOVQ x+0(FP), SI \
	MOVQ xStep+8(FP), R8 \
	MOVQ yStep+16(FP), R9 \
	MOVQ w+24(FP), DI \
	MOVQ acc+32(FP), DX \
	MOVQ groups+40(FP), CX \
	LEAQ (SI)(R8*1), R10 \
	LEAQ (SI)(R8*2), R11 \
	LEAQ (SI)(R9*1), R12 \
	LEAQ (R12)(R8*1), R13 \
	LEAQ (R12)(R8*2), BX \
	LEAQ (SI)(R9*2), R14 \
	LEAQ (R14)(R8*1), R15 \
	LEAQ (R14)(R8*2), R8 \
	XORQ AX, AX \
	TESTQ CX, CX \
	JZ   done \
loop: \
	VMOVDQU 288(DI), Y0 \
	TAP(ext, SI, 0) \
	TAP(ext, R10, 32) \
	TAP(ext, R11, 64) \
	TAP(ext, R12, 96) \
	TAP(ext, R13, 128) \
	TAP(ext, BX, 160) \
	TAP(ext, R14, 192) \
	TAP(ext, R15, 224) \
	TAP(ext, R8, 256) \
	VMOVDQU Y0, (DX)(AX*4) \
	ADDQ $8, AX \
	ADDQ $320, DI \
	DECQ CX \
	JNZ  loop \
done: \
	VZEROUPPER \
	RET

// func depthwise3x3U8AVX2(x *byte, xStep, yStep int, w, acc *int32, groups int)
TEXT ·depthwise3x3U8AVX2(SB), NOSPLIT, $0-48
	BODY(VPMOVZXBD)

// func depthwise3x3S8AVX2(x *byte, xStep, yStep int, w, acc *int32, groups int)
TEXT ·depthwise3x3S8AVX2(SB), NOSPLIT, $0-48
	BODY(VPMOVSXBD)
