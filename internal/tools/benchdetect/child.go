package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/edgeflow/edgeflow/internal/tflite"
)

// goRun is what one child process measured: one model, one thread count.
type goRun struct {
	Threads     int     `json:"threads"` // goroutines per Invoke (resolved, never 0)
	WallNs      []int64 `json:"wall_ns"` // each timed Invoke
	CPUNs       int64   `json:"cpu_ns"`  // process CPU time over all timed Invokes
	Allocs      float64 `json:"allocs"`  // heap allocations per Invoke
	AllocBytes  float64 `json:"alloc_bytes"`
	ArenaBytes  int     `json:"arena_bytes"`
	PrepareNs   int64   `json:"prepare_ns"` // LoadFile + NewInterpreter
	MaxRSSBytes int64   `json:"max_rss_bytes"`
}

// childArgs names what a child process runs.
type childArgs struct {
	model, input string
	threads      int
	iters        int
	minTime      time.Duration
}

// runChild loads the model, copies the input bytes into input 0, warms up
// with one Invoke, then runs at least a.iters Invokes and for at least
// a.minTime, and writes a goRun as JSON to w.
func runChild(ctx context.Context, a childArgs, w io.Writer) error {
	t0 := time.Now()
	m, err := tflite.LoadFile(a.model)
	if err != nil {
		return err
	}
	threads := a.threads
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	ip, err := tflite.NewInterpreter(m, tflite.WithThreads(threads))
	if err != nil {
		return fmt.Errorf("%s: %w", a.model, err)
	}
	defer ip.Close()
	prepare := time.Since(t0)
	in, err := os.ReadFile(a.input)
	if err != nil {
		return err
	}
	if t := ip.Input(0); len(t.Data) != len(in) {
		return fmt.Errorf("%s: %d bytes, input %s needs %d", a.input, len(in), t.Name, len(t.Data))
	}
	copy(ip.Input(0).Data, in)
	if err := ip.Invoke(ctx); err != nil {
		return fmt.Errorf("%s: warm-up: %w", a.model, err)
	}
	// Room for the timings up front, so that the only allocations counted
	// are the interpreter's.
	r := goRun{Threads: threads, ArenaBytes: ip.ArenaBytes(), PrepareNs: prepare.Nanoseconds(), WallNs: make([]int64, 0, 1<<16)}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	for (len(r.WallNs) < a.iters || time.Since(start) < a.minTime) && len(r.WallNs) < cap(r.WallNs) {
		w0 := time.Now()
		if err := ip.Invoke(ctx); err != nil {
			return fmt.Errorf("%s: %w", a.model, err)
		}
		r.WallNs = append(r.WallNs, time.Since(w0).Nanoseconds())
	}
	r.CPUNs = int64(cpuTime() - cpu0)
	runtime.ReadMemStats(&ms1)
	n := float64(len(r.WallNs))
	r.Allocs = float64(ms1.Mallocs-ms0.Mallocs) / n
	r.AllocBytes = float64(ms1.TotalAlloc-ms0.TotalAlloc) / n
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		r.MaxRSSBytes = ru.Maxrss * 1024 // Linux reports KiB
	}
	return json.NewEncoder(w).Encode(r)
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
