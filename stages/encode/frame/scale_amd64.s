// Decimal scaling of four values at a time with AVX2 (scale_amd64.go; the
// scalar loop of scaleDecimal in encode.go does the same and is tested
// against it). Per value v: s = v × scale; for |s| < 2^51, t = s + 1.5 × 2^52
// rounds s to the nearest even integer k, held in t's low bits (k = bits(t) −
// bits(1.5 × 2^52)) and exactly t − 1.5 × 2^52 as a float64; the correction is
// bits(v) − bits(k / scale), zigzag coded: (c << 1) XOR (c < 0 ? −1 : 0).

#include "textflag.h"

// func scaleDecimalAVX2(vals *float64, n int, scale float64, ks *int64, cs, kDeltas *uint64, prev int64, lohi *[8]int64) (done, ncorr int)
//
// kDeltas[i] = zigzag(ks[i] − ks[i−1]), the previous integer of the first
// value being prev; lohi holds four running minima then four maxima of the
// integers, updated.
TEXT ·scaleDecimalAVX2(SB), NOSPLIT, $0-80
	MOVQ vals+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD scale+16(FP), Y15
	MOVQ ks+24(FP), DI
	MOVQ cs+32(FP), R8
	MOVQ kDeltas+40(FP), R9
	VPBROADCASTQ prev+48(FP), Y10 // lane 0: the integer before the group
	MOVQ lohi+56(FP), R10
	VMOVDQU (R10), Y8            // minima
	VMOVDQU 32(R10), Y9          // maxima
	MOVQ $0x4338000000000000, DX // 1.5 × 2^52
	MOVQ DX, X14
	VPBROADCASTQ X14, Y14
	MOVQ $0x4320000000000000, DX // 2^51
	MOVQ DX, X13
	VPBROADCASTQ X13, Y13
	MOVQ $0x7fffffffffffffff, DX // all but the sign bit
	MOVQ DX, X12
	VPBROADCASTQ X12, Y12
	VPXOR Y11, Y11, Y11          // zero
	XORQ AX, AX                  // i
	XORQ BX, BX                  // nonzero corrections

loop:
	CMPQ AX, CX
	JAE  done
	VMOVUPD (SI)(AX*8), Y0       // v
	VMULPD Y15, Y0, Y1           // s = v × scale
	VANDPD Y12, Y1, Y2           // |s|
	VCMPPD $1, Y13, Y2, Y3       // |s| < 2^51 (false for NaN)
	VMOVMSKPD Y3, DX
	CMPL DX, $15
	JNE  done
	VADDPD Y14, Y1, Y4           // t = s + 1.5 × 2^52
	VSUBPD Y14, Y4, Y5           // float64(k)
	VPSUBQ Y14, Y4, Y6           // k
	VMOVDQU Y6, (DI)(AX*8)
	VDIVPD Y15, Y5, Y7           // k / scale
	VPSUBQ Y7, Y0, Y3            // c = bits(v) − bits(k / scale)
	VPCMPGTQ Y3, Y11, Y2         // c < 0
	VPSLLQ $1, Y3, Y4
	VPXOR Y2, Y4, Y4             // zigzag(c)
	VMOVDQU Y4, (R8)(AX*8)
	VPCMPEQQ Y11, Y4, Y7
	VMOVMSKPD Y7, DX
	POPCNTL DX, DX               // zero corrections
	VPERMQ $0x93, Y6, Y7         // k3, k0, k1, k2
	VPBLENDD $0x03, Y10, Y7, Y10 // the previous integer of each lane
	VPSUBQ Y10, Y6, Y10          // deltas
	VPCMPGTQ Y10, Y11, Y5
	VPSLLQ $1, Y10, Y10
	VPXOR Y5, Y10, Y10           // zigzag(deltas)
	VMOVDQU Y10, (R9)(AX*8)
	VMOVDQA Y7, Y10              // lane 0: k3, for the next group
	VPCMPGTQ Y6, Y8, Y5          // min > k
	VBLENDVPD Y5, Y6, Y8, Y8
	VPCMPGTQ Y9, Y6, Y5          // k > max
	VBLENDVPD Y5, Y6, Y9, Y9
	ADDQ $4, BX
	SUBQ DX, BX
	ADDQ $4, AX
	JMP  loop

done:
	VMOVDQU Y8, (R10)
	VMOVDQU Y9, 32(R10)
	VZEROUPPER
	MOVQ AX, done+64(FP)
	MOVQ BX, ncorr+72(FP)
	RET

// func riceQuotientsAVX2(s *uint64, n int, k0 uint) (qsum, odd, low2, esc uint64)
//
// Over s[0..n) (n a multiple of 4): the quotients q = z >> k0 below 32
// summed, with their lowest bits and their two lowest bits, and the number
// of the others (q >> 5 != 0).
TEXT ·riceQuotientsAVX2(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ k0+16(FP), X15           // shift count
	MOVQ $1, DX
	MOVQ DX, X14
	VPBROADCASTQ X14, Y14         // 1
	MOVQ $3, DX
	MOVQ DX, X13
	VPBROADCASTQ X13, Y13         // 3
	VPXOR Y12, Y12, Y12           // zero
	VPXOR Y0, Y0, Y0              // sum of q
	VPXOR Y1, Y1, Y1              // sum of q & 1
	VPXOR Y2, Y2, Y2              // sum of q & 3
	VPXOR Y3, Y3, Y3              // minus the count below 32
	XORQ AX, AX

qloop:
	CMPQ AX, CX
	JAE  qdone
	VMOVDQU (SI)(AX*8), Y4
	VPSRLQ X15, Y4, Y4            // q
	VPSRLQ $5, Y4, Y5
	VPCMPEQQ Y12, Y5, Y5          // q < 32: all ones
	VPAND Y5, Y4, Y4              // q, or 0 for the others
	VPADDQ Y4, Y0, Y0
	VPAND Y14, Y4, Y6
	VPADDQ Y6, Y1, Y1
	VPAND Y13, Y4, Y6
	VPADDQ Y6, Y2, Y2
	VPADDQ Y5, Y3, Y3             // −1 per value below 32
	ADDQ $4, AX
	JMP  qloop

qdone:
	// Horizontal sums.
	VEXTRACTI128 $1, Y0, X4
	VPADDQ X4, X0, X0
	VPSHUFD $0x4e, X0, X4
	VPADDQ X4, X0, X0
	MOVQ X0, DX
	MOVQ DX, qsum+24(FP)
	VEXTRACTI128 $1, Y1, X4
	VPADDQ X4, X1, X1
	VPSHUFD $0x4e, X1, X4
	VPADDQ X4, X1, X1
	MOVQ X1, DX
	MOVQ DX, odd+32(FP)
	VEXTRACTI128 $1, Y2, X4
	VPADDQ X4, X2, X2
	VPSHUFD $0x4e, X2, X4
	VPADDQ X4, X2, X2
	MOVQ X2, DX
	MOVQ DX, low2+40(FP)
	VEXTRACTI128 $1, Y3, X4
	VPADDQ X4, X3, X3
	VPSHUFD $0x4e, X3, X4
	VPADDQ X4, X3, X3
	MOVQ X3, DX
	ADDQ CX, DX                   // n − count below 32
	MOVQ DX, esc+48(FP)
	VZEROUPPER
	RET
