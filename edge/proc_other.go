//go:build !linux

package edge

import (
	"runtime"
)

// readCPU outside Linux knows the number of CPUs only; every CPU counts as idle.
func readCPU(string) (CPUTimes, int64, error) {
	return CPUTimes{}, int64(runtime.NumCPU()) * 1000, nil
}

// readMemory outside Linux reports nothing.
func readMemory(string) (capacity, free int64, err error) { return 0, 0, nil }

// readDisk outside Linux reports nothing.
func readDisk(string) (capacity, free int64, err error) { return 0, 0, nil }
