//go:build !linux

package placementsim

import "time"

func threadClock() (clock func() time.Duration, release func(), ok bool) {
	return nil, func() {}, false
}
