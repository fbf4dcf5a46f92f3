//go:build !linux

package placement

import "time"

// threadClock has no thread CPU clock to offer on this platform.
func threadClock() (clock func() time.Duration, release func(), ok bool) {
	return nil, func() {}, false
}
