package tflite

// widenAVX2 is widenGo on n bytes, n a multiple of 16 (widen_amd64.s).
//
//go:noescape
func widenAVX2(src *byte, n int, flip byte, dst *int16) (sum int32)

// widenVec is the machine's vector widening.
func widenVec(src *byte, n int, flip byte, dst *int16) int32 { return widenAVX2(src, n, flip, dst) }
