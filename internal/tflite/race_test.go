//go:build race

package tflite

// raceEnabled: the race detector slows the kernels down some 20 times.
const raceEnabled = true
