package tflite

// requantAVX2 is requantGo in AVX2 (requant_amd64.s) over groups of eight
// channels.
//
//go:noescape
func requantAVX2(acc *int32, sumX int32, p *int32, groups int, outZP, lo, hi int32, out *int32)
