//go:build !amd64

package tflite

// widenAVX2 is never called where haveGEMMAsm is false.
func widenAVX2(src *byte, n int, flip byte, dst *int16) (sum int32) {
	panic("tflite: widenAVX2 without AVX2")
}
