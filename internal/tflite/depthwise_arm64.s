// Hand-written NEON kernel of the quantized 3x3 depthwise convolution for
// arm64, for pixels whose window lies inside the input (depthwise_arm64.go;
// the Go loop in depthwise.go's inside3x3 is the reference it is tested
// against; the amd64 counterpart is depthwise_amd64.s).
//
// Eight channels at a time: the nine taps' input bytes are widened to int32
// (USHLL or SSHLL #0, twice), multiplied by the offset filter taps (int32,
// exact: |x·w| < 2^17) and added to the folded bias with MLA. w holds per
// group of eight channels the nine tap vectors, then the bias vector (320
// bytes): V12..V29 the taps, V30, V31 the bias. R0..R8 walk the nine taps.
// Vector instructions are WORDs with the instruction in the comment (see
// gemm_arm64.s).

#include "textflag.h"

// func depthwise3x3U8NEON(x *byte, xStep, yStep int, w, acc *int32, groups int)
TEXT ·depthwise3x3U8NEON(SB), NOSPLIT, $0-48
	MOVD x+0(FP), R0
	MOVD xStep+8(FP), R12
	MOVD yStep+16(FP), R13
	MOVD w+24(FP), R9
	MOVD acc+32(FP), R10
	MOVD groups+40(FP), R11
	ADD  R12, R0, R1 // tap (0,1)
	ADD  R12, R1, R2 // tap (0,2)
	ADD  R13, R0, R3 // tap (1,0)
	ADD  R12, R3, R4
	ADD  R12, R4, R5
	ADD  R13, R3, R6 // tap (2,0)
	ADD  R12, R6, R7
	ADD  R12, R7, R8
	CBZ  R11, done

loop:
	WORD $0x4cdf292c // ld1 {v12.4s, v13.4s, v14.4s, v15.4s}, [x9], #64
	WORD $0x4cdf2930 // ld1 {v16.4s, v17.4s, v18.4s, v19.4s}, [x9], #64
	WORD $0x4cdf2934 // ld1 {v20.4s, v21.4s, v22.4s, v23.4s}, [x9], #64
	WORD $0x4cdf2938 // ld1 {v24.4s, v25.4s, v26.4s, v27.4s}, [x9], #64
	WORD $0x4cdf293c // ld1 {v28.4s, v29.4s, v30.4s, v31.4s}, [x9], #64
	WORD $0x4ebe1fc0 // mov v0.16b, v30.16b
	WORD $0x4ebf1fe1 // mov v1.16b, v31.16b
	WORD $0x0cdf7002 // ld1 {v2.8b}, [x0], #8
	WORD $0x2f08a442 // ushll v2.8h, v2.8b, #0
	WORD $0x2f10a443 // ushll v3.4s, v2.4h, #0
	WORD $0x6f10a444 // ushll2 v4.4s, v2.8h, #0
	WORD $0x4eac9460 // mla v0.4s, v3.4s, v12.4s
	WORD $0x4ead9481 // mla v1.4s, v4.4s, v13.4s
	WORD $0x0cdf7025 // ld1 {v5.8b}, [x1], #8
	WORD $0x2f08a4a5 // ushll v5.8h, v5.8b, #0
	WORD $0x2f10a4a6 // ushll v6.4s, v5.4h, #0
	WORD $0x6f10a4a7 // ushll2 v7.4s, v5.8h, #0
	WORD $0x4eae94c0 // mla v0.4s, v6.4s, v14.4s
	WORD $0x4eaf94e1 // mla v1.4s, v7.4s, v15.4s
	WORD $0x0cdf7048 // ld1 {v8.8b}, [x2], #8
	WORD $0x2f08a508 // ushll v8.8h, v8.8b, #0
	WORD $0x2f10a509 // ushll v9.4s, v8.4h, #0
	WORD $0x6f10a50a // ushll2 v10.4s, v8.8h, #0
	WORD $0x4eb09520 // mla v0.4s, v9.4s, v16.4s
	WORD $0x4eb19541 // mla v1.4s, v10.4s, v17.4s
	WORD $0x0cdf7062 // ld1 {v2.8b}, [x3], #8
	WORD $0x2f08a442 // ushll v2.8h, v2.8b, #0
	WORD $0x2f10a443 // ushll v3.4s, v2.4h, #0
	WORD $0x6f10a444 // ushll2 v4.4s, v2.8h, #0
	WORD $0x4eb29460 // mla v0.4s, v3.4s, v18.4s
	WORD $0x4eb39481 // mla v1.4s, v4.4s, v19.4s
	WORD $0x0cdf7085 // ld1 {v5.8b}, [x4], #8
	WORD $0x2f08a4a5 // ushll v5.8h, v5.8b, #0
	WORD $0x2f10a4a6 // ushll v6.4s, v5.4h, #0
	WORD $0x6f10a4a7 // ushll2 v7.4s, v5.8h, #0
	WORD $0x4eb494c0 // mla v0.4s, v6.4s, v20.4s
	WORD $0x4eb594e1 // mla v1.4s, v7.4s, v21.4s
	WORD $0x0cdf70a8 // ld1 {v8.8b}, [x5], #8
	WORD $0x2f08a508 // ushll v8.8h, v8.8b, #0
	WORD $0x2f10a509 // ushll v9.4s, v8.4h, #0
	WORD $0x6f10a50a // ushll2 v10.4s, v8.8h, #0
	WORD $0x4eb69520 // mla v0.4s, v9.4s, v22.4s
	WORD $0x4eb79541 // mla v1.4s, v10.4s, v23.4s
	WORD $0x0cdf70c2 // ld1 {v2.8b}, [x6], #8
	WORD $0x2f08a442 // ushll v2.8h, v2.8b, #0
	WORD $0x2f10a443 // ushll v3.4s, v2.4h, #0
	WORD $0x6f10a444 // ushll2 v4.4s, v2.8h, #0
	WORD $0x4eb89460 // mla v0.4s, v3.4s, v24.4s
	WORD $0x4eb99481 // mla v1.4s, v4.4s, v25.4s
	WORD $0x0cdf70e5 // ld1 {v5.8b}, [x7], #8
	WORD $0x2f08a4a5 // ushll v5.8h, v5.8b, #0
	WORD $0x2f10a4a6 // ushll v6.4s, v5.4h, #0
	WORD $0x6f10a4a7 // ushll2 v7.4s, v5.8h, #0
	WORD $0x4eba94c0 // mla v0.4s, v6.4s, v26.4s
	WORD $0x4ebb94e1 // mla v1.4s, v7.4s, v27.4s
	WORD $0x0cdf7108 // ld1 {v8.8b}, [x8], #8
	WORD $0x2f08a508 // ushll v8.8h, v8.8b, #0
	WORD $0x2f10a509 // ushll v9.4s, v8.4h, #0
	WORD $0x6f10a50a // ushll2 v10.4s, v8.8h, #0
	WORD $0x4ebc9520 // mla v0.4s, v9.4s, v28.4s
	WORD $0x4ebd9541 // mla v1.4s, v10.4s, v29.4s
	WORD $0x4c9fa940 // st1 {v0.4s, v1.4s}, [x10], #32
	SUBS $1, R11, R11
	BNE  loop

done:
	RET

// func depthwise3x3S8NEON(x *byte, xStep, yStep int, w, acc *int32, groups int)
TEXT ·depthwise3x3S8NEON(SB), NOSPLIT, $0-48
	MOVD x+0(FP), R0
	MOVD xStep+8(FP), R12
	MOVD yStep+16(FP), R13
	MOVD w+24(FP), R9
	MOVD acc+32(FP), R10
	MOVD groups+40(FP), R11
	ADD  R12, R0, R1 // tap (0,1)
	ADD  R12, R1, R2 // tap (0,2)
	ADD  R13, R0, R3 // tap (1,0)
	ADD  R12, R3, R4
	ADD  R12, R4, R5
	ADD  R13, R3, R6 // tap (2,0)
	ADD  R12, R6, R7
	ADD  R12, R7, R8
	CBZ  R11, done

loop:
	WORD $0x4cdf292c // ld1 {v12.4s, v13.4s, v14.4s, v15.4s}, [x9], #64
	WORD $0x4cdf2930 // ld1 {v16.4s, v17.4s, v18.4s, v19.4s}, [x9], #64
	WORD $0x4cdf2934 // ld1 {v20.4s, v21.4s, v22.4s, v23.4s}, [x9], #64
	WORD $0x4cdf2938 // ld1 {v24.4s, v25.4s, v26.4s, v27.4s}, [x9], #64
	WORD $0x4cdf293c // ld1 {v28.4s, v29.4s, v30.4s, v31.4s}, [x9], #64
	WORD $0x4ebe1fc0 // mov v0.16b, v30.16b
	WORD $0x4ebf1fe1 // mov v1.16b, v31.16b
	WORD $0x0cdf7002 // ld1 {v2.8b}, [x0], #8
	WORD $0x0f08a442 // sshll v2.8h, v2.8b, #0
	WORD $0x0f10a443 // sshll v3.4s, v2.4h, #0
	WORD $0x4f10a444 // sshll2 v4.4s, v2.8h, #0
	WORD $0x4eac9460 // mla v0.4s, v3.4s, v12.4s
	WORD $0x4ead9481 // mla v1.4s, v4.4s, v13.4s
	WORD $0x0cdf7025 // ld1 {v5.8b}, [x1], #8
	WORD $0x0f08a4a5 // sshll v5.8h, v5.8b, #0
	WORD $0x0f10a4a6 // sshll v6.4s, v5.4h, #0
	WORD $0x4f10a4a7 // sshll2 v7.4s, v5.8h, #0
	WORD $0x4eae94c0 // mla v0.4s, v6.4s, v14.4s
	WORD $0x4eaf94e1 // mla v1.4s, v7.4s, v15.4s
	WORD $0x0cdf7048 // ld1 {v8.8b}, [x2], #8
	WORD $0x0f08a508 // sshll v8.8h, v8.8b, #0
	WORD $0x0f10a509 // sshll v9.4s, v8.4h, #0
	WORD $0x4f10a50a // sshll2 v10.4s, v8.8h, #0
	WORD $0x4eb09520 // mla v0.4s, v9.4s, v16.4s
	WORD $0x4eb19541 // mla v1.4s, v10.4s, v17.4s
	WORD $0x0cdf7062 // ld1 {v2.8b}, [x3], #8
	WORD $0x0f08a442 // sshll v2.8h, v2.8b, #0
	WORD $0x0f10a443 // sshll v3.4s, v2.4h, #0
	WORD $0x4f10a444 // sshll2 v4.4s, v2.8h, #0
	WORD $0x4eb29460 // mla v0.4s, v3.4s, v18.4s
	WORD $0x4eb39481 // mla v1.4s, v4.4s, v19.4s
	WORD $0x0cdf7085 // ld1 {v5.8b}, [x4], #8
	WORD $0x0f08a4a5 // sshll v5.8h, v5.8b, #0
	WORD $0x0f10a4a6 // sshll v6.4s, v5.4h, #0
	WORD $0x4f10a4a7 // sshll2 v7.4s, v5.8h, #0
	WORD $0x4eb494c0 // mla v0.4s, v6.4s, v20.4s
	WORD $0x4eb594e1 // mla v1.4s, v7.4s, v21.4s
	WORD $0x0cdf70a8 // ld1 {v8.8b}, [x5], #8
	WORD $0x0f08a508 // sshll v8.8h, v8.8b, #0
	WORD $0x0f10a509 // sshll v9.4s, v8.4h, #0
	WORD $0x4f10a50a // sshll2 v10.4s, v8.8h, #0
	WORD $0x4eb69520 // mla v0.4s, v9.4s, v22.4s
	WORD $0x4eb79541 // mla v1.4s, v10.4s, v23.4s
	WORD $0x0cdf70c2 // ld1 {v2.8b}, [x6], #8
	WORD $0x0f08a442 // sshll v2.8h, v2.8b, #0
	WORD $0x0f10a443 // sshll v3.4s, v2.4h, #0
	WORD $0x4f10a444 // sshll2 v4.4s, v2.8h, #0
	WORD $0x4eb89460 // mla v0.4s, v3.4s, v24.4s
	WORD $0x4eb99481 // mla v1.4s, v4.4s, v25.4s
	WORD $0x0cdf70e5 // ld1 {v5.8b}, [x7], #8
	WORD $0x0f08a4a5 // sshll v5.8h, v5.8b, #0
	WORD $0x0f10a4a6 // sshll v6.4s, v5.4h, #0
	WORD $0x4f10a4a7 // sshll2 v7.4s, v5.8h, #0
	WORD $0x4eba94c0 // mla v0.4s, v6.4s, v26.4s
	WORD $0x4ebb94e1 // mla v1.4s, v7.4s, v27.4s
	WORD $0x0cdf7108 // ld1 {v8.8b}, [x8], #8
	WORD $0x0f08a508 // sshll v8.8h, v8.8b, #0
	WORD $0x0f10a509 // sshll v9.4s, v8.4h, #0
	WORD $0x4f10a50a // sshll2 v10.4s, v8.8h, #0
	WORD $0x4ebc9520 // mla v0.4s, v9.4s, v28.4s
	WORD $0x4ebd9541 // mla v1.4s, v10.4s, v29.4s
	WORD $0x4c9fa940 // st1 {v0.4s, v1.4s}, [x10], #32
	SUBS $1, R11, R11
	BNE  loop

done:
	RET
