// Hand-written NEON requantization of int32 accumulators for arm64
// (requant_arm64.go; requantGo in requant.go is the reference it is tested
// against): per channel c, x = acc + bias[c] − wZP[c]·sumX, then TFLite's
// MultiplyByQuantizedMultiplier, + outZP, clamped. NEON has the reference's
// arithmetic as instructions, as gemmlowp's NEON path uses them: SSHL for
// the left shift (wrapping), SQRDMULH is SaturatingRoundingDoublingHighMul
// (bit for bit: (2ab + 2^31) >> 32 equals the reference's nudged truncating
// division for either sign), and RoundingDivideByPOT is SRSHL by −right
// after adding −1 to negative values (x & −right has the sign bit exactly
// when x < 0 and right > 0; SQADD keeps MinInt32 from wrapping).
//
// Parameter block per group of eight channels (requantParams): bias, wZP,
// left, significand, right, then two masks only the AVX2 kernel reads,
// 32 bytes each. Vector instructions are WORDs with the instruction in the
// comment (see gemm_arm64.s).

#include "textflag.h"

// func requantNEON(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32)
TEXT ·requantNEON(SB), NOSPLIT, $0-56
	MOVD acc+0(FP), R0
	MOVW sumX+8(FP), R1
	MOVD p+16(FP), R2
	MOVD groups+24(FP), R3
	MOVW outZP+32(FP), R4
	MOVW lo+36(FP), R5
	MOVW hi+40(FP), R6
	MOVD out+48(FP), R7
	WORD $0x4e040c3f // dup v31.4s, w1
	WORD $0x4e040c9e // dup v30.4s, w4
	WORD $0x4e040cbd // dup v29.4s, w5
	WORD $0x4e040cdc // dup v28.4s, w6
	CBZ  R3, done

loop:
	WORD $0x4cdfa800 // ld1 {v0.4s, v1.4s}, [x0], #32
	WORD $0x4cdf2842 // ld1 {v2.4s, v3.4s, v4.4s, v5.4s}, [x2], #64
	WORD $0x4ea28400 // add v0.4s, v0.4s, v2.4s
	WORD $0x4ea38421 // add v1.4s, v1.4s, v3.4s
	WORD $0x6ebf9480 // mls v0.4s, v4.4s, v31.4s
	WORD $0x6ebf94a1 // mls v1.4s, v5.4s, v31.4s
	WORD $0x4cdf2846 // ld1 {v6.4s, v7.4s, v8.4s, v9.4s}, [x2], #64
	WORD $0x4ea64400 // sshl v0.4s, v0.4s, v6.4s
	WORD $0x4ea74421 // sshl v1.4s, v1.4s, v7.4s
	WORD $0x6ea8b400 // sqrdmulh v0.4s, v0.4s, v8.4s
	WORD $0x6ea9b421 // sqrdmulh v1.4s, v1.4s, v9.4s
	WORD $0x4cdfa852 // ld1 {v18.4s, v19.4s}, [x2], #32
	WORD $0x6ea0ba52 // neg v18.4s, v18.4s
	WORD $0x6ea0ba73 // neg v19.4s, v19.4s
	WORD $0x4e321c14 // and v20.16b, v0.16b, v18.16b
	WORD $0x4e331c35 // and v21.16b, v1.16b, v19.16b
	WORD $0x4f210694 // sshr v20.4s, v20.4s, #31
	WORD $0x4f2106b5 // sshr v21.4s, v21.4s, #31
	WORD $0x4eb40c00 // sqadd v0.4s, v0.4s, v20.4s
	WORD $0x4eb50c21 // sqadd v1.4s, v1.4s, v21.4s
	WORD $0x4eb25400 // srshl v0.4s, v0.4s, v18.4s
	WORD $0x4eb35421 // srshl v1.4s, v1.4s, v19.4s
	WORD $0x4ebe8400 // add v0.4s, v0.4s, v30.4s
	WORD $0x4ebe8421 // add v1.4s, v1.4s, v30.4s
	WORD $0x4ebd6400 // smax v0.4s, v0.4s, v29.4s
	WORD $0x4ebd6421 // smax v1.4s, v1.4s, v29.4s
	WORD $0x4ebc6c00 // smin v0.4s, v0.4s, v28.4s
	WORD $0x4ebc6c21 // smin v1.4s, v1.4s, v28.4s
	WORD $0x4c9fa8e0 // st1 {v0.4s, v1.4s}, [x7], #32
	ADD  $64, R2, R2 // the two masks are for the AVX2 kernel
	SUBS $1, R3, R3
	BNE  loop

done:
	RET

// func requantBytesNEON(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte)
//
// The clamped values fit a byte: XTN narrows to 16 then 8 bits (the low
// byte of each), 8 bytes a group.
TEXT ·requantBytesNEON(SB), NOSPLIT, $0-56
	MOVD acc+0(FP), R0
	MOVW sumX+8(FP), R1
	MOVD p+16(FP), R2
	MOVD groups+24(FP), R3
	MOVW outZP+32(FP), R4
	MOVW lo+36(FP), R5
	MOVW hi+40(FP), R6
	MOVD out+48(FP), R7
	WORD $0x4e040c3f // dup v31.4s, w1
	WORD $0x4e040c9e // dup v30.4s, w4
	WORD $0x4e040cbd // dup v29.4s, w5
	WORD $0x4e040cdc // dup v28.4s, w6
	CBZ  R3, done

loop:
	WORD $0x4cdfa800 // ld1 {v0.4s, v1.4s}, [x0], #32
	WORD $0x4cdf2842 // ld1 {v2.4s, v3.4s, v4.4s, v5.4s}, [x2], #64
	WORD $0x4ea28400 // add v0.4s, v0.4s, v2.4s
	WORD $0x4ea38421 // add v1.4s, v1.4s, v3.4s
	WORD $0x6ebf9480 // mls v0.4s, v4.4s, v31.4s
	WORD $0x6ebf94a1 // mls v1.4s, v5.4s, v31.4s
	WORD $0x4cdf2846 // ld1 {v6.4s, v7.4s, v8.4s, v9.4s}, [x2], #64
	WORD $0x4ea64400 // sshl v0.4s, v0.4s, v6.4s
	WORD $0x4ea74421 // sshl v1.4s, v1.4s, v7.4s
	WORD $0x6ea8b400 // sqrdmulh v0.4s, v0.4s, v8.4s
	WORD $0x6ea9b421 // sqrdmulh v1.4s, v1.4s, v9.4s
	WORD $0x4cdfa852 // ld1 {v18.4s, v19.4s}, [x2], #32
	WORD $0x6ea0ba52 // neg v18.4s, v18.4s
	WORD $0x6ea0ba73 // neg v19.4s, v19.4s
	WORD $0x4e321c14 // and v20.16b, v0.16b, v18.16b
	WORD $0x4e331c35 // and v21.16b, v1.16b, v19.16b
	WORD $0x4f210694 // sshr v20.4s, v20.4s, #31
	WORD $0x4f2106b5 // sshr v21.4s, v21.4s, #31
	WORD $0x4eb40c00 // sqadd v0.4s, v0.4s, v20.4s
	WORD $0x4eb50c21 // sqadd v1.4s, v1.4s, v21.4s
	WORD $0x4eb25400 // srshl v0.4s, v0.4s, v18.4s
	WORD $0x4eb35421 // srshl v1.4s, v1.4s, v19.4s
	WORD $0x4ebe8400 // add v0.4s, v0.4s, v30.4s
	WORD $0x4ebe8421 // add v1.4s, v1.4s, v30.4s
	WORD $0x4ebd6400 // smax v0.4s, v0.4s, v29.4s
	WORD $0x4ebd6421 // smax v1.4s, v1.4s, v29.4s
	WORD $0x4ebc6c00 // smin v0.4s, v0.4s, v28.4s
	WORD $0x4ebc6c21 // smin v1.4s, v1.4s, v28.4s
	WORD $0x0e612800 // xtn v0.4h, v0.4s
	WORD $0x4e612820 // xtn2 v0.8h, v1.4s
	WORD $0x0e212800 // xtn v0.8b, v0.8h
	WORD $0x0c9f70e0 // st1 {v0.8b}, [x7], #8
	ADD  $64, R2, R2 // the two masks are for the AVX2 kernel
	SUBS $1, R3, R3
	BNE  loop

done:
	RET
