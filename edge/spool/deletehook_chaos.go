//go:build chaoshook

package spool

import (
	"os"
	"time"
)

// EnvDeleteDelay, in a binary built with the chaoshook tag, makes the
// forwarder sleep this long (a Go duration) between the sink's successful
// Write of a batch and its deletion from the spool: the chaos tests kill the
// node inside that window, so the batch is sent again after the restart and
// the consumer must drop the duplicates. Ordinary builds do not read it.
const EnvDeleteDelay = "EDGEFLOW_SPOOL_DELETE_DELAY"

func init() {
	d, err := time.ParseDuration(os.Getenv(EnvDeleteDelay))
	if err != nil || d <= 0 {
		return
	}
	beforeDelete = func() { time.Sleep(d) }
}
