package frame

import (
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time the calling OS thread has used, so that
// benchmarks can report single-core throughput on a busy machine (the caller
// locks itself to its thread).
func threadCPUTime() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
