package frame

import "golang.org/x/sys/cpu"

// haveScaleAsm: scaleDecimalAVX2 runs on this CPU.
var haveScaleAsm = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// scaleDecimalAVX2 is the first loop of scaleDecimal in AVX2 assembly
// (scale_amd64.s), four values at a time: for vals[0..n) (n a multiple of 4)
// it stores each value's integer k = round(v × scale) into ks and the zigzag
// difference of the bit patterns of v and k / scale into cs. It stops before
// the first group of four holding a product of magnitude 2^51 or more (or
// NaN), which the Go loop handles, and returns how many values it did and
// how many of their corrections are nonzero.
//
//go:noescape
func scaleDecimalAVX2(vals *float64, n int, scale float64, ks *int64, cs *uint64) (done, ncorr int)
