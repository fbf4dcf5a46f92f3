//go:build !amd64

package frame

// haveScaleAsm is false: scaleDecimalAVX2 exists on amd64 only.
var haveScaleAsm = false

// scaleDecimalAVX2 is never called where haveScaleAsm is false.
func scaleDecimalAVX2(vals *float64, n int, scale float64, ks *int64, cs, kDeltas *uint64, prev int64, lohi *[8]int64) (done, ncorr int) {
	panic("frame: scaleDecimalAVX2 without AVX2")
}

// riceQuotientsAVX2 is never called where haveScaleAsm is false.
func riceQuotientsAVX2(s *uint64, n int, k0 uint) (qsum, odd, low2, esc uint64) {
	panic("frame: riceQuotientsAVX2 without AVX2")
}
