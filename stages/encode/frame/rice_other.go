//go:build !amd64

package frame

// haveRiceAsm is false: riceDivBMI2 exists on amd64 only.
var haveRiceAsm = false

// riceDivBMI2 is never called where haveRiceAsm is false.
func riceDivBMI2(src *byte, srcLen int, k uint, k0 int64, div float64, vals *float64, n int) (done int, bitPos uint, last int64) {
	panic("frame: riceDivBMI2 without BMI2")
}

// riceShortBMI2 is never called where haveRiceAsm is false.
func riceShortBMI2(buf *byte, pos int, acc uint64, n uint, zs *uint64, cnt int, k uint) (done, newPos int, newAcc uint64, newN uint) {
	panic("frame: riceShortBMI2 without BMI2")
}

// riceBMI2 is never called where haveRiceAsm is false.
func riceBMI2(src *byte, srcLen int, k uint, zs *uint64, n int) (done int, bitPos uint) {
	panic("frame: riceBMI2 without BMI2")
}
