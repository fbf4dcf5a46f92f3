// Rice decoding of the scaled integers' deltas with BMI1/BMI2 (rice_amd64.go;
// riceScaledGo in decode.go is the reference it is tested against). The bit
// reader keeps acc (AX) holding n (BX) unread bits, least significant first,
// refilled from an unaligned 8-byte load before every value: acc |= load(pos)
// << n, pos += (63 - n) / 8, n |= 56. A value is q one bits (q = TZCNT of
// ^acc, < 32), a zero bit, then k low bits; its zigzag delta is added to the
// running integer, which is converted and divided by 10^D.

#include "textflag.h"

// VALUE(FULL) decodes one value from acc if it is all there; otherwise it
// jumps to FULL.
#define VALUE(FULL) \
	MOVQ AX, R13 \
	NOTQ R13 \
	TZCNTQ R13, CX \
	CMPQ CX, $32 \
	JAE  FULL \
	LEAQ 1(CX)(R9*1), R13 \
	CMPQ R13, BX \
	JA   FULL \
	LEAQ 1(CX), R11 \
	SHRXQ R11, AX, R11 \
	BZHIQ R9, R11, R11 \
	SHLXQ R9, CX, CX \
	ORQ  R11, CX \
	SHRXQ R13, AX, AX \
	SUBQ R13, BX \
	MOVQ CX, R11 \
	SHRQ $1, R11 \
	ANDQ $1, CX \
	NEGQ CX \
	XORQ R11, CX \
	ADDQ CX, R10 \
	XORPS X1, X1 \
	CVTSQ2SD R10, X1 \
	DIVSD X0, X1 \
	MOVSD X1, (DI) \
	ADDQ $8, DI


// func riceDivBMI2(src *byte, srcLen int, k uint, k0 int64, div float64, vals *float64, n int) (done int, bitPos uint, last int64)
TEXT ·riceDivBMI2(SB), NOSPLIT, $0-80
	MOVQ src+0(FP), SI
	MOVQ srcLen+8(FP), R8
	SUBQ $8, R8               // R8: the last position an 8-byte load may start at
	MOVQ k+16(FP), R9
	MOVQ k0+24(FP), R10
	MOVSD div+32(FP), X0
	MOVQ vals+40(FP), DI
	MOVQ n+48(FP), R12
	LEAQ (DI)(R12*8), R12     // R12: end of vals
	XORQ AX, AX               // acc
	XORQ BX, BX               // n: bits in acc
	XORQ DX, DX               // pos: next byte to load

loop:
	CMPQ DI, R12
	JAE  done
	CMPQ DX, R8
	JGT  done
	MOVQ (SI)(DX*1), R13
	SHLXQ BX, R13, R13        // load << n
	ORQ  R13, AX
	MOVQ $63, R13
	SUBQ BX, R13
	SHRQ $3, R13
	ADDQ R13, DX              // pos += (63 - n) / 8
	ORQ  $56, BX              // n |= 56
	// A value (TZCNT gives q, the one bits before the first zero; q >= 32
	// is an escape, left to the caller like a value not wholly in acc),
	// then a second one from the same bits when it is there.
	VALUE(done)
	CMPQ DI, R12
	JAE  done
	VALUE(loop)
	JMP  loop

done:
	MOVQ DI, CX
	SUBQ vals+40(FP), CX
	SHRQ $3, CX
	MOVQ CX, done+56(FP)
	SHLQ $3, DX
	SUBQ BX, DX
	MOVQ DX, bitPos+64(FP)
	MOVQ R10, last+72(FP)
	RET

// func riceShortBMI2(buf *byte, pos int, acc uint64, n uint, zs *uint64, cnt int, k uint) (done, newPos int, newAcc uint64, newN uint)
//
// Per value z: q = z >> k; stop if q >= 32 or q + 1 + k > 56; the code is q
// one bits (BZHI of all ones), a zero bit and the k low bits of z (BZHI).
// Two codes that fit in 56 bits together are joined first, so that the
// accumulator takes one step for both. The code, shifted by n, goes into
// acc; the 8 bytes of acc are stored at pos, pos moves by the whole bytes
// and acc drops them (n + 56 < 64: one shift).
TEXT ·riceShortBMI2(SB), NOSPLIT, $0-88
	MOVQ buf+0(FP), DI
	MOVQ pos+8(FP), DX
	MOVQ acc+16(FP), AX
	MOVQ n+24(FP), BX
	MOVQ zs+32(FP), SI
	MOVQ cnt+40(FP), R12
	LEAQ (SI)(R12*8), R12     // end of zs
	MOVQ k+48(FP), R9

pair:
	LEAQ 16(SI), R15
	CMPQ R15, R12
	JA   single
	MOVQ (SI), R10            // z1
	MOVQ 8(SI), R11           // z2
	SHRXQ R9, R10, CX         // q1
	SHRXQ R9, R11, R13        // q2
	CMPQ CX, $32
	JAE  single
	CMPQ R13, $32
	JAE  single
	LEAQ 1(CX)(R9*1), R14     // w1
	LEAQ 1(R13)(R9*1), R15
	ADDQ R14, R15             // w1 + w2
	CMPQ R15, $56
	JA   single
	MOVQ $-1, R8
	BZHIQ CX, R8, R8          // q1 one bits
	BZHIQ R9, R10, R10        // k low bits of z1
	INCQ CX
	SHLXQ CX, R10, R10
	ORQ  R8, R10              // code 1
	MOVQ $-1, R8
	BZHIQ R13, R8, R8
	BZHIQ R9, R11, R11
	INCQ R13
	SHLXQ R13, R11, R11
	ORQ  R8, R11              // code 2
	SHLXQ R14, R11, R11
	ORQ  R11, R10             // both
	MOVQ R15, R13             // their length
	ADDQ $16, SI
	JMP  put

single:
	CMPQ SI, R12
	JAE  encdone
	MOVQ (SI), R10            // z
	SHRXQ R9, R10, CX         // q
	CMPQ CX, $32
	JAE  encdone
	LEAQ 1(CX)(R9*1), R13     // code length
	CMPQ R13, $56
	JA   encdone
	MOVQ $-1, R11
	BZHIQ CX, R11, R11        // q one bits
	BZHIQ R9, R10, R10        // k low bits of z
	INCQ CX
	SHLXQ CX, R10, R10
	ORQ  R11, R10             // the code
	ADDQ $8, SI

put:
	SHLXQ BX, R10, R10
	ORQ  R10, AX
	ADDQ R13, BX
	MOVQ AX, (DI)(DX*1)
	MOVQ BX, R13
	SHRQ $3, R13
	ADDQ R13, DX              // pos += n / 8
	SHLQ $3, R13
	SHRXQ R13, AX, AX         // acc >>= 8 × (n / 8)
	ANDQ $7, BX
	JMP  pair

encdone:
	SUBQ zs+32(FP), SI
	SHRQ $3, SI
	MOVQ SI, done+56(FP)
	MOVQ DX, newPos+64(FP)
	MOVQ AX, newAcc+72(FP)
	MOVQ BX, newN+80(FP)
	RET

// VALUEZ(FULL) is VALUE storing the value itself.
#define VALUEZ(FULL) \
	MOVQ AX, R13 \
	NOTQ R13 \
	TZCNTQ R13, CX \
	CMPQ CX, $32 \
	JAE  FULL \
	LEAQ 1(CX)(R9*1), R13 \
	CMPQ R13, BX \
	JA   FULL \
	LEAQ 1(CX), R11 \
	SHRXQ R11, AX, R11 \
	BZHIQ R9, R11, R11 \
	SHLXQ R9, CX, CX \
	ORQ  R11, CX \
	SHRXQ R13, AX, AX \
	SUBQ R13, BX \
	MOVQ CX, (DI) \
	ADDQ $8, DI

// func riceBMI2(src *byte, srcLen int, k uint, zs *uint64, n int) (done int, bitPos uint)
TEXT ·riceBMI2(SB), NOSPLIT, $0-56
	MOVQ src+0(FP), SI
	MOVQ srcLen+8(FP), R8
	SUBQ $8, R8
	MOVQ k+16(FP), R9
	MOVQ zs+24(FP), DI
	MOVQ n+32(FP), R12
	LEAQ (DI)(R12*8), R12
	XORQ AX, AX
	XORQ BX, BX
	XORQ DX, DX

zloop:
	CMPQ DI, R12
	JAE  zdone
	CMPQ DX, R8
	JGT  zdone
	MOVQ (SI)(DX*1), R13
	SHLXQ BX, R13, R13
	ORQ  R13, AX
	MOVQ $63, R13
	SUBQ BX, R13
	SHRQ $3, R13
	ADDQ R13, DX
	ORQ  $56, BX
	VALUEZ(zdone)
	CMPQ DI, R12
	JAE  zdone
	VALUEZ(zloop)
	JMP  zloop

zdone:
	MOVQ DI, CX
	SUBQ zs+24(FP), CX
	SHRQ $3, CX
	MOVQ CX, done+40(FP)
	SHLQ $3, DX
	SUBQ BX, DX
	MOVQ DX, bitPos+48(FP)
	RET
