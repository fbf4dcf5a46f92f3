package tflite

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// go test -run '^$' -bench Invoke -benchmem ./internal/tflite
//
// One Invoke of each golden model on its first case's input, with one
// goroutine and with the default (GOMAXPROCS). Besides wall time (ns/op) it
// reports the process's CPU time per Invoke (cpu-ns/op), which is steadier
// than wall time on a machine shared with other work.
func BenchmarkInvoke(b *testing.B) {
	names, by := goldenModels(b)
	for _, name := range names {
		c := by[name][0]
		m := goldenModel(b, c)
		for _, threads := range []int{1, 0} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(b *testing.B) {
				ip, err := NewInterpreter(m, WithThreads(threads))
				if err != nil {
					b.Fatal(err)
				}
				defer ip.Close()
				copy(ip.Input(0).Data, c.Input.Data)
				ctx := context.Background()
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					if err := ip.Invoke(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
