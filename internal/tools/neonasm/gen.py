#!/usr/bin/env python3
"""gen.py — writes the arm64 NEON kernels of internal/tflite as Go assembly
(gemm_arm64.s, widen_arm64.s, requant_arm64.s, depthwise_arm64.s).

Go's arm64 assembler lacks most of the vector instructions used (SMLAL,
UDOT, SQRDMULH, SRSHL, post-indexed LD1 of several registers ...), so each
is written here in the ARM syntax, encoded by LLVM's assembler (llvm-mc, from
Debian's llvm-14 package or any newer one) and emitted as a WORD with the instruction beside it;
scalar set-up and loop control stay in Go's syntax. Usage:

    python3 internal/tools/neonasm/gen.py internal/tflite

then GOARCH=arm64 go vet ./internal/tflite and make test-arm."""
import subprocess, sys, re

def enc(lines):
    src = "\n".join(lines) + "\n"
    out = subprocess.run(["llvm-mc", "-triple=aarch64", "-mattr=+neon,+dotprod", "-show-encoding"],
                         input=src, capture_output=True, text=True, check=True).stdout
    words = []
    for l in out.splitlines():
        m = re.search(r"encoding: \[(.*)\]", l)
        if m:
            b = [int(x, 16) for x in m.group(1).split(",")]
            words.append(b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24)
    assert len(words) == len(lines), (len(words), len(lines), out)
    return words

def render(body):
    """body: list of strings; lines starting with '@' are GNU vector
    instructions to encode, others are Go assembly verbatim."""
    gnu = [l[1:].strip() for l in body if l.startswith("@")]
    words = iter(enc(gnu)) if gnu else iter(())
    out = []
    for l in body:
        if l.startswith("@"):
            ins = l[1:].strip()
            out.append("\tWORD $0x%08x // %s" % (next(words), ins))
        else:
            out.append(l)
    return "\n".join(out) + "\n"

# ---------------------------------------------------------------- gemm
def gemm_prologue(commented):
    """Arguments into R0..R10, the row pointers R1..R3 (patches) and R5, R6
    (filter rows), and V0..V11 cleared: shared by both gemm kernels."""
    notes = [" // patch 1", " // patch 2", " // patch 3", " // filter row 1", " // filter row 2"] if commented else [""] * 5
    b = ["\tMOVD p+0(FP), R0",
         "\tMOVD w+8(FP), R4",
         "\tMOVD strideBytes+16(FP), R10",
         "\tMOVD n+24(FP), R7",
         "\tMOVD out+32(FP), R8",
         "\tMOVD outStrideBytes+40(FP), R9"]
    for ins, note in zip(["\tADD  R10, R0, R1", "\tADD  R10, R1, R2", "\tADD  R10, R2, R3",
                          "\tADD  R10, R4, R5", "\tADD  R10, R5, R6"], notes):
        b.append(ins + note)
    b.append("")
    for i in range(12):
        b.append("@movi v%d.2d, #0" % i)
    return b

def gemm_epilogue():
    """Row j's three sums (ADDP pairwise) and a zero to out + j·outStrideBytes,
    then return: shared by both gemm kernels."""
    b = ["@movi v31.2d, #0"]
    for j in range(4):
        b += ["@addp v12.4s, v%d.4s, v%d.4s" % (3 * j, 3 * j + 1),
              "@addp v13.4s, v%d.4s, v31.4s" % (3 * j + 2),
              "@addp v12.4s, v12.4s, v13.4s",
              "@st1 {v12.4s}, [x8]",
              "\tADD  R9, R8, R8"]
    b.append("\tRET")
    return b

def gemm():
    b = []
    b += ["// func gemm4x3NEON(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)",
          "//",
          "// V0..V11 accumulate patch j × filter row c in V(3j+c), four int32 lanes",
          "// each; 16 values a row per iteration: patch j in V(16+2j), V(17+2j),",
          "// filter row c in V(24+2c), V(25+2c). SMLAL multiplies the low four",
          "// int16 lanes into int32 and adds, SMLAL2 the high four. Row j's three",
          "// sums (ADDP pairwise) and a zero go to out + j·outStrideBytes.",
          "TEXT ·gemm4x3NEON(SB), NOSPLIT, $0-48"]
    b += gemm_prologue(commented=True)
    b += ["\tLSR  $4, R7, R7 // iterations of 16 values", "\tCBZ  R7, reduce", "", "loop:"]
    for r in range(7):
        b.append("@ld1 {v%d.8h, v%d.8h}, [x%d], #32" % (16 + 2 * r, 17 + 2 * r, r))
    for half in range(2):
        for hi in (False, True):
            for j in range(4):
                for c in range(3):
                    pv, fv = 16 + 2 * j + half, 24 + 2 * c + half
                    if hi:
                        b.append("@smlal2 v%d.4s, v%d.8h, v%d.8h" % (3 * j + c, pv, fv))
                    else:
                        b.append("@smlal v%d.4s, v%d.4h, v%d.4h" % (3 * j + c, pv, fv))
    b += ["\tSUBS $1, R7, R7", "\tBNE  loop", "", "reduce:"]
    b += gemm_epilogue()
    b += ["",
          "// func gemm4x3UDOT(p, w *int16, strideBytes, n int, out *int32, outStrideBytes int)",
          "//",
          "// gemm4x3NEON with ARMv8.2's UDOT (FEAT_DotProd: Cortex-A55/A76 and later,",
          "// not the Cortex-A72): the int16 rows are read as bytes, and UDOT adds",
          "// each four bytewise products into an int32 lane. The values are widened",
          "// bytes (0..255), so every high byte is zero and contributes nothing:",
          "// the sums are exactly those of gemm4x3NEON, 8 values per instruction",
          "// instead of 4. Same registers; V0..V11 accumulate.",
          "TEXT ·gemm4x3UDOT(SB), NOSPLIT, $0-48"]
    b += gemm_prologue(commented=False)
    b += ["\tLSR  $4, R7, R7", "\tCBZ  R7, dreduce", "", "dloop:"]
    for r in range(7):
        b.append("@ld1 {v%d.16b, v%d.16b}, [x%d], #32" % (16 + 2 * r, 17 + 2 * r, r))
    for half in range(2):
        for j in range(4):
            for c in range(3):
                b.append("@udot v%d.4s, v%d.16b, v%d.16b" % (3 * j + c, 16 + 2 * j + half, 24 + 2 * c + half))
    b += ["\tSUBS $1, R7, R7", "\tBNE  dloop", "", "dreduce:"]
    b += gemm_epilogue()
    hdr = """// Hand-written NEON micro-kernel of the quantized convolution for arm64
// (gemm_arm64.go, reference gemm4x3Go in gemm.go; the amd64 counterpart is
// gemm_amd64.s). gemm4x3NEON needs only ARMv8.0-A (Cortex-A72); gemm4x3UDOT
// takes the dot-product instructions where the CPU has them.
//
// The values are bytes widened to int16; SMLAL/SMLAL2 form each int16
// product exactly in int32 and add it into the accumulator, which wraps
// modulo 2^32 like the sums of the Go version.
//
// Go's arm64 assembler has no SMLAL, UDOT, ADDP on these arrangements or the
// post-indexed LD1 forms written here, so vector instructions are WORDs
// with the instruction in the comment. Generated by
// internal/tools/neonasm/gen.py (llvm-mc encodes them): edit that, not this.
// Register use: R0-R10 and V0-V31 are scratch in Go's ABI0.

#include "textflag.h"

"""
    return hdr + render(b)

# ---------------------------------------------------------------- widen
def widen():
    b = ["// func widenNEON(src *byte, n int, flip byte, dst *int16) (sum int32)",
         "//",
         "// n is a multiple of 16. V31 holds flip in every byte, V30 four int32",
         "// partial sums (UADALP adds the eight halfword sums pairwise).",
         "TEXT ·widenNEON(SB), NOSPLIT, $0-36",
         "\tMOVD  src+0(FP), R0",
         "\tMOVD  n+8(FP), R1",
         "\tMOVBU flip+16(FP), R2",
         "\tMOVD  dst+24(FP), R3",
         "@dup v31.16b, w2",
         "@movi v30.2d, #0",
         "\tLSR   $4, R1, R1",
         "\tCBZ   R1, done",
         "",
         "loop:",
         "@ld1 {v0.16b}, [x0], #16",
         "@eor v0.16b, v0.16b, v31.16b",
         "@ushll v1.8h, v0.8b, #0",
         "@ushll2 v2.8h, v0.16b, #0",
         "@st1 {v1.8h, v2.8h}, [x3], #32",
         "@add v3.8h, v1.8h, v2.8h",
         "@uadalp v30.4s, v3.8h",
         "\tSUBS  $1, R1, R1",
         "\tBNE   loop",
         "",
         "done:",
         "@addv s30, v30.4s",
         "@fmov w4, s30",
         "\tMOVW  R4, sum+32(FP)",
         "\tRET"]
    hdr = """// Hand-written NEON widening of convolution patches for arm64
// (widen_arm64.go; the Go loop of widenGo in widen.go is the reference it
// is tested against): bytes XOR flip, zero-extended to int16, and their sum.
// Vector instructions are WORDs with the instruction in the comment (see
// gemm_arm64.s); generated by internal/tools/neonasm/gen.py.

#include "textflag.h"

"""
    return hdr + render(b)

# ---------------------------------------------------------------- requant
def requant():
    def body(name, store):
        b = ["TEXT ·%s(SB), NOSPLIT, $0-56" % name,
             "\tMOVD acc+0(FP), R0",
             "\tMOVW sumX+8(FP), R1",
             "\tMOVD p+16(FP), R2",
             "\tMOVD groups+24(FP), R3",
             "\tMOVW outZP+32(FP), R4",
             "\tMOVW lo+36(FP), R5",
             "\tMOVW hi+40(FP), R6",
             "\tMOVD out+48(FP), R7",
             "@dup v31.4s, w1",
             "@dup v30.4s, w4",
             "@dup v29.4s, w5",
             "@dup v28.4s, w6",
             "\tCBZ  R3, done",
             "",
             "loop:",
             "@ld1 {v0.4s, v1.4s}, [x0], #32",
             "@ld1 {v2.4s, v3.4s, v4.4s, v5.4s}, [x2], #64",
             "@add v0.4s, v0.4s, v2.4s",
             "@add v1.4s, v1.4s, v3.4s",
             "@mls v0.4s, v4.4s, v31.4s",
             "@mls v1.4s, v5.4s, v31.4s",
             "@ld1 {v6.4s, v7.4s, v8.4s, v9.4s}, [x2], #64",
             "@sshl v0.4s, v0.4s, v6.4s",
             "@sshl v1.4s, v1.4s, v7.4s",
             "@sqrdmulh v0.4s, v0.4s, v8.4s",
             "@sqrdmulh v1.4s, v1.4s, v9.4s",
             "@ld1 {v18.4s, v19.4s}, [x2], #32",
             "@neg v18.4s, v18.4s",
             "@neg v19.4s, v19.4s",
             "@and v20.16b, v0.16b, v18.16b",
             "@and v21.16b, v1.16b, v19.16b",
             "@sshr v20.4s, v20.4s, #31",
             "@sshr v21.4s, v21.4s, #31",
             "@sqadd v0.4s, v0.4s, v20.4s",
             "@sqadd v1.4s, v1.4s, v21.4s",
             "@srshl v0.4s, v0.4s, v18.4s",
             "@srshl v1.4s, v1.4s, v19.4s",
             "@add v0.4s, v0.4s, v30.4s",
             "@add v1.4s, v1.4s, v30.4s",
             "@smax v0.4s, v0.4s, v29.4s",
             "@smax v1.4s, v1.4s, v29.4s",
             "@smin v0.4s, v0.4s, v28.4s",
             "@smin v1.4s, v1.4s, v28.4s"] + store + [
             "\tADD  $64, R2, R2 // the two masks are for the AVX2 kernel",
             "\tSUBS $1, R3, R3",
             "\tBNE  loop",
             "",
             "done:",
             "\tRET"]
        return b
    b = ["// func requantNEON(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32)"]
    b += body("requantNEON", ["@st1 {v0.4s, v1.4s}, [x7], #32"])
    b += ["", "// func requantBytesNEON(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte)",
          "//", "// The clamped values fit a byte: XTN narrows to 16 then 8 bits (the low",
          "// byte of each), 8 bytes a group."]
    b += body("requantBytesNEON", ["@xtn v0.4h, v0.4s", "@xtn2 v0.8h, v1.4s", "@xtn v0.8b, v0.8h", "@st1 {v0.8b}, [x7], #8"])
    hdr = """// Hand-written NEON requantization of int32 accumulators for arm64
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
// comment (see gemm_arm64.s); generated by
// internal/tools/neonasm/gen.py.

#include "textflag.h"

"""
    return hdr + render(b)

# ---------------------------------------------------------------- depthwise
def depthwise():
    def body(name, ext):
        b = ["TEXT ·%s(SB), NOSPLIT, $0-48" % name,
             "\tMOVD x+0(FP), R0",
             "\tMOVD xStep+8(FP), R12",
             "\tMOVD yStep+16(FP), R13",
             "\tMOVD w+24(FP), R9",
             "\tMOVD acc+32(FP), R10",
             "\tMOVD groups+40(FP), R11",
             "\tADD  R12, R0, R1 // tap (0,1)",
             "\tADD  R12, R1, R2 // tap (0,2)",
             "\tADD  R13, R0, R3 // tap (1,0)",
             "\tADD  R12, R3, R4",
             "\tADD  R12, R4, R5",
             "\tADD  R13, R3, R6 // tap (2,0)",
             "\tADD  R12, R6, R7",
             "\tADD  R12, R7, R8",
             "\tCBZ  R11, done",
             "",
             "loop:"]
        for k in range(5):
            b.append("@ld1 {v%d.4s, v%d.4s, v%d.4s, v%d.4s}, [x9], #64" % tuple(12 + 4 * k + i for i in range(4)))
        b += ["@mov v0.16b, v30.16b", "@mov v1.16b, v31.16b"]
        for t in range(9):
            r = 2 + 3 * (t % 3)
            wl, wh = 12 + 2 * t, 13 + 2 * t
            b += ["@ld1 {v%d.8b}, [x%d], #8" % (r, t),
                  "@%s v%d.8h, v%d.8b, #0" % (ext, r, r),
                  "@%s v%d.4s, v%d.4h, #0" % (ext, r + 1, r),
                  "@%s2 v%d.4s, v%d.8h, #0" % (ext, r + 2, r),
                  "@mla v0.4s, v%d.4s, v%d.4s" % (r + 1, wl),
                  "@mla v1.4s, v%d.4s, v%d.4s" % (r + 2, wh)]
        b += ["@st1 {v0.4s, v1.4s}, [x10], #32",
              "\tSUBS $1, R11, R11",
              "\tBNE  loop",
              "",
              "done:",
              "\tRET"]
        return b
    b = ["// func depthwise3x3U8NEON(x *byte, xStep, yStep int, w, acc *int32, groups int)"]
    b += body("depthwise3x3U8NEON", "ushll")
    b += ["", "// func depthwise3x3S8NEON(x *byte, xStep, yStep int, w, acc *int32, groups int)"]
    b += body("depthwise3x3S8NEON", "sshll")
    hdr = """// Hand-written NEON kernel of the quantized 3x3 depthwise convolution for
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
// gemm_arm64.s); generated by internal/tools/neonasm/gen.py.

#include "textflag.h"

"""
    return hdr + render(b)

outdir = sys.argv[1]
for name, f in [("gemm_arm64.s", gemm), ("widen_arm64.s", widen), ("requant_arm64.s", requant), ("depthwise_arm64.s", depthwise)]:
    open(outdir + "/" + name, "w").write(f())
