package tflite

// widenAVX2 is widenGo on n bytes, n a multiple of 16 (widen_amd64.s).
//
//go:noescape
func widenAVX2(src *byte, n int, flip byte, dst *int16) (sum int32)
