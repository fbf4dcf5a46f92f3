package tflite

// requantAVX2 is requantGo in AVX2 (requant_amd64.s) over groups of eight
// channels.
//
//go:noescape
func requantAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32)

// requantBytesAVX2 is requantAVX2 storing each value's low byte (the values
// are clamped to the 8-bit output range): groups·8 bytes at out.
//
//go:noescape
func requantBytesAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte)

// requantVec and requantBytesVec are the machine's vector requantization.
func requantVec(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32) {
	requantAVX2(acc, sumX, p, groups, outZP, lo, hi, out)
}

func requantBytesVec(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *byte) {
	requantBytesAVX2(acc, sumX, p, groups, outZP, lo, hi, out)
}
