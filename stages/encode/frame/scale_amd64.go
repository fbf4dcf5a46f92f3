package frame

import "golang.org/x/sys/cpu"

// haveScaleAsm: scaleDecimalAVX2 runs on this CPU.
var haveScaleAsm = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// scaleDecimalAVX2 is the loop of scaleDecimal in AVX2 assembly
// (scale_amd64.s), four values at a time: for vals[0..n) (n a multiple of 4)
// it stores each value's integer k = round(v × scale) into ks, the zigzag
// difference of the bit patterns of v and k / scale into cs and the zigzag
// delta from the previous integer (prev for the first) into kDeltas, and
// keeps four running minima and maxima of the integers in lohi. It stops before
// the first group of four holding a product of magnitude 2^51 or more (or
// NaN), which the Go loop handles, and returns how many values it did and
// how many of their corrections are nonzero.
//
//go:noescape
func scaleDecimalAVX2(vals *float64, n int, scale float64, ks *int64, cs, kDeltas *uint64, prev int64, lohi *[8]int64) (done, ncorr int)

// riceQuotientsAVX2 is riceSampleQuotients over s[0..n) (n a multiple of 4)
// in AVX2 assembly (scale_amd64.s), four samples at a time.
//
//go:noescape
func riceQuotientsAVX2(s *uint64, n int, k0 uint) (qsum, odd, low2, esc uint64)
