//go:build !amd64

package frame

// haveScaleAsm is false: scaleDecimalAVX2 exists on amd64 only.
var haveScaleAsm = false

// scaleDecimalAVX2 is never called where haveScaleAsm is false.
func scaleDecimalAVX2(vals *float64, n int, scale float64, ks *int64, cs, kDeltas *uint64, prev int64, lohi *[8]int64) (done, ncorr int) {
	panic("frame: scaleDecimalAVX2 without AVX2")
}
