package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// sectionHeading starts the section benchdetect owns in docs/benchmarks.md.
const sectionHeading = "## Detect"

// targets are the per-frame budgets the detect stage has to meet, checked on
// the wall time with one goroutine per core.
var targets = map[string]time.Duration{
	"ssd_detect":             120 * time.Millisecond,
	"mobilenet_quant_v1_224": 60 * time.Millisecond,
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func nsToFloat(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// ms formats seconds as milliseconds with sensible precision.
func ms(sec float64) string {
	m := sec * 1e3
	switch {
	case m >= 10000:
		return fmt.Sprintf("%.1f s", sec)
	case m >= 1000:
		return fmt.Sprintf("%.2f s", sec)
	case m >= 100:
		return fmt.Sprintf("%.0f ms", m)
	case m >= 10:
		return fmt.Sprintf("%.1f ms", m)
	case m >= 1:
		return fmt.Sprintf("%.2f ms", m)
	case m >= 0.01:
		return fmt.Sprintf("%.0f µs", m*1e3)
	case m >= 0.001:
		return fmt.Sprintf("%.1f µs", m*1e3)
	}
	return fmt.Sprintf("%.0f ns", m*1e6)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func sizeBytes(b int) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// wall returns the median and best wall seconds of a Go run.
func (g goRun) wall() (med, best float64) {
	v := nsToFloat(g.WallNs)
	return median(v) / 1e9, slices.Min(v) / 1e9
}

func (g goRun) cpu() float64 { return float64(g.CPUNs) / float64(len(g.WallNs)) / 1e9 }

func (r *report) markdown(cfg benchConfig) string {
	var w strings.Builder
	w.WriteString(sectionHeading + ": the interpreter against Arm NN CpuRef, per model\n\n")
	w.WriteString("Written by `make bench-detect` (`internal/tools/benchdetect`); do not edit by hand. Each golden\n" +
		"model of `internal/tflite/testdata/golden` runs on its first case's input bytes: edgeflow's\n" +
		"interpreter in a child process of its own per thread count (one goroutine, then one per core),\n" +
		"then, in the same run, Arm NN 20.08's CpuRef back end (Debian's `python3-pyarmnn`, via\n" +
		"`internal/tools/benchdetect/armnn_bench.py` and `/usr/bin/python3`) on the same model and bytes.\n" +
		"The kernels and what they cost are described in the interpreter section above; this one is the\n" +
		"comparison and the memory.\n\n")
	fmt.Fprintf(&w, "```sh\nmake bench-detect   # go run ./internal/tools/benchdetect -doc docs/benchmarks.md -go-iters %d -go-min-time %s -armnn-iters %d\n```\n\n",
		cfg.goIters, cfg.goMinTime, cfg.armnnIters)
	w.WriteString("Go: wall time per Invoke (median and best of at least " + fmt.Sprint(cfg.goIters) + " Invokes over at least " + cfg.goMinTime.String() + ", after one warm-up) and\n" +
		"the process's CPU time per Invoke (all goroutines, `getrusage`); allocations and bytes per Invoke\n" +
		"from `runtime.MemStats`; arena: the planned activation memory; peak RSS of the child process\n" +
		"(model file, widened filters, arena, Go runtime). Arm NN: median of " + fmt.Sprint(cfg.armnnIters) + " inferences after one warm-up\n" +
		"(CpuRef is single-threaded), peak RSS of the Python process. Ratio: Arm NN's time over Go's with\n" +
		"one goroutine, CPU and wall. CpuRef is Arm NN's reference back end, written to be plainly correct,\n" +
		"not fast (Arm NN's fast CPU back end, CpuAcc, needs Arm's Compute Library and Arm cores); the\n" +
		"ratio says how far a straightforward kernel is from edgeflow's, not how edgeflow compares with an\n" +
		"optimised runtime. For tiny models the CPU time per Invoke includes the timing loop itself.\n\n")

	w.WriteString("| model | Go 1 thread: wall (best) / CPU | Go " + r.cores + " threads: wall (best) / CPU | allocs, bytes per Invoke (1 / " + r.cores + " threads) | arena | peak RSS Go | Arm NN CpuRef: wall / CPU | peak RSS Arm NN | Arm NN ÷ Go: CPU / wall |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range r.models {
		w1, b1 := m.goOne.wall()
		wa, ba := m.goAll.wall()
		rss := max(m.goOne.MaxRSSBytes, m.goAll.MaxRSSBytes)
		allocs := fmt.Sprintf("%.2g, %.0f B / %.2g, %.0f B", m.goOne.Allocs, m.goOne.AllocBytes, m.goAll.Allocs, m.goAll.AllocBytes)
		arm, armRSS, ratio := "—", "—", "—"
		if m.armnn != nil {
			aw, ac := median(m.armnn.WallS), median(m.armnn.CPUS)
			arm = ms(aw) + " / " + ms(ac)
			armRSS = mib(m.armnn.MaxRSSKB * 1024)
			ratio = fmt.Sprintf("%.0f× / %.0f×", ac/m.goOne.cpu(), aw/w1)
		} else if m.armnnErr != "" {
			arm = "failed (see below)"
		}
		fmt.Fprintf(&w, "| %s (%s) | %s (%s) / %s | %s (%s) / %s | %s | %s | %s | %s | %s | %s |\n",
			m.name, m.input, ms(w1), ms(b1), ms(m.goOne.cpu()), ms(wa), ms(ba), ms(m.goAll.cpu()),
			allocs, sizeBytes(m.goOne.ArenaBytes), mib(rss), arm, armRSS, ratio)
	}
	w.WriteString("\n**Targets** (wall per frame with one goroutine per core, median):\n\n")
	for _, m := range r.models {
		t, ok := targets[m.name]
		if !ok {
			continue
		}
		wa, _ := m.goAll.wall()
		verdict := "met"
		if wa > t.Seconds() {
			verdict = "NOT met"
		}
		w1, _ := m.goOne.wall()
		fmt.Fprintf(&w, "- %s ≤ %d ms: %s (%s CPU with one goroutine): %s. One goroutine per core is %.2f× as fast as one goroutine (median wall %s).\n",
			m.name, t.Milliseconds(), ms(wa), ms(m.goOne.cpu()), verdict, w1/wa, ms(w1))
	}
	for _, m := range r.models {
		if m.armnnErr != "" {
			fmt.Fprintf(&w, "\nArm NN failed on %s: `%s`\n", m.name, m.armnnErr)
		}
	}
	fmt.Fprintf(&w, "\nMeasured %s on %s cores (%s), load average %s at the start and %s at the end:\n"+
		"the load average is the machine's other work; the higher it is, the noisier wall times are than CPU times.\n\n",
		r.start.Format("2006-01-02 15:04 UTC"), r.cores, r.goVersion, r.loadStart, r.loadEnd)
	return w.String()
}

// rewriteSection replaces the "## Detect" section of the Markdown file (up to
// the next "## " heading) with section, or inserts it after the interpreter
// section ("## TensorFlow Lite interpreter"), or appends it.
func rewriteSection(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(b), "\n")
	nextHeading := func(from int) int {
		for i := from; i < len(lines); i++ {
			if strings.HasPrefix(lines[i], "## ") {
				return i
			}
		}
		return len(lines)
	}
	find := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		return -1
	}
	var start, end int
	if i := find(sectionHeading); i >= 0 {
		start, end = i, nextHeading(i+1)
	} else if i := find("## TensorFlow Lite interpreter"); i >= 0 {
		start = nextHeading(i + 1)
		end = start
	} else {
		start, end = len(lines), len(lines)
		if len(b) > 0 && !strings.HasSuffix(string(b), "\n\n") {
			section = "\n" + section
		}
	}
	out := strings.Join(lines[:start], "") + section + strings.Join(lines[end:], "")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(out), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
