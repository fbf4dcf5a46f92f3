package tflite

// widenNEON is widenGo on n bytes, n a multiple of 16 (widen_arm64.s).
//
//go:noescape
func widenNEON(src *byte, n int, flip byte, dst *int16) (sum int32)

// widenVec is the machine's vector widening.
func widenVec(src *byte, n int, flip byte, dst *int16) int32 { return widenNEON(src, n, flip, dst) }
