//go:build !linux

package frame

import "time"

var processStart = time.Now()

// threadCPUTime falls back to wall time where per-thread CPU time is not read.
func threadCPUTime() time.Duration { return time.Since(processStart) }
