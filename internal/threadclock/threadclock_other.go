//go:build !linux

package threadclock

import "time"

// Start has no thread CPU clock to offer on this platform: ok is false.
func Start() (clock func() time.Duration, release func(), ok bool) {
	return nil, func() {}, false
}
