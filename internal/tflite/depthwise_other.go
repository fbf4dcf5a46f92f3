//go:build !amd64 && !arm64

package tflite

// depthwise3x3Asm: no assembly kernel on this architecture; inside3x3 does
// every channel in Go.
func depthwise3x3Asm(in []byte, x0, xStep, yStep int, signed bool, w, acc []int32) int {
	return 0
}
