package tflite

// requantNEON is requantGo in NEON (requant_arm64.s) over groups of eight
// channels.
//
//go:noescape
func requantNEON(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32)

// requantBytesNEON is requantNEON storing each value's low byte (the values
// are clamped to the 8-bit output range): groups·8 bytes at out.
//
//go:noescape
func requantBytesNEON(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte)

// requantVec and requantBytesVec are the machine's vector requantization.
func requantVec(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32) {
	requantNEON(acc, sumX, p, groups, outZP, lo, hi, out)
}

func requantBytesVec(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte) {
	requantBytesNEON(acc, sumX, p, groups, outZP, lo, hi, out)
}
