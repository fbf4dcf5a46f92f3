//go:build !amd64 && !arm64

package tflite

// widenVec is never called where haveGEMMAsm is false.
func widenVec(src *byte, n int, flip byte, dst *int16) int32 {
	panic("tflite: widenVec without vector kernels")
}
