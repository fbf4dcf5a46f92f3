//go:build linux

package threadclock

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Start locks the calling goroutine to its OS thread and returns a clock of
// the CPU time that thread has used, which leaves out time it waited for a
// core (other processes on a shared machine), and a function that unlocks the
// thread. ok is false where there is no such clock; release must be called
// either way.
func Start() (clock func() time.Duration, release func(), ok bool) {
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
