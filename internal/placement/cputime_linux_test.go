//go:build linux

package placement

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// threadClock returns a clock of the CPU time the calling OS thread has used
// and a function to release the thread; ok is false where there is none.
func threadClock() (clock func() time.Duration, release func(), ok bool) {
	runtime.LockOSThread()
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		runtime.UnlockOSThread()
		return nil, func() {}, false
	}
	return func() time.Duration {
		_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
		return time.Duration(ts.Nano())
	}, runtime.UnlockOSThread, true
}
