package threadclock

import (
	"runtime"
	"testing"
)

func TestStartMeasuresWork(t *testing.T) {
	clock, release, ok := Start()
	defer release()
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatal("no thread CPU clock on linux")
		}
		return
	}
	began := clock()
	x := 0
	for i := range 20_000_000 {
		x += i ^ (x >> 3)
	}
	if used := clock() - began; used <= 0 {
		t.Fatalf("thread CPU time did not advance (%v) over a busy loop (%d)", used, x)
	}
}
