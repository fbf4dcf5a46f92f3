package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/internal/tflite/golden"
)

func main() {
	var (
		goldenDir  = flag.String("golden", "internal/tflite/testdata/golden", "golden directory (<model>/<case>.json)")
		shared     = flag.String("shared", "../shared", "the shared directory with models/coral")
		script     = flag.String("armnn-script", "internal/tools/benchdetect/armnn_bench.py", "the Arm NN timing script")
		python     = flag.String("python", "/usr/bin/python3", "Python with Debian's pyarmnn (internal/tools/armnn/golden.sh installs it)")
		doc        = flag.String("doc", "", "rewrite the \"## Detect\" section of this Markdown file (docs/benchmarks.md)")
		only       = flag.String("only", "", "regular expression: measure only the models whose name matches")
		goIters    = flag.Int("go-iters", 20, "at least this many timed Invokes per model and thread count")
		goMinTime  = flag.Duration("go-min-time", 2*time.Second, "and at least this long")
		armnnIters = flag.Int("armnn-iters", 3, "timed Arm NN CpuRef inferences per model (after one warm-up)")
		noArmNN    = flag.Bool("no-armnn", false, "skip Arm NN")

		child   = flag.Bool("child", false, "internal: measure one model in this process and print JSON")
		model   = flag.String("model", "", "internal (-child): the .tflite file")
		input   = flag.String("input", "", "internal (-child): the input tensor bytes")
		threads = flag.Int("threads", 1, "internal (-child): goroutines per Invoke, 0 = GOMAXPROCS")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: benchdetect [flags]  (run from the repository root; make bench-detect)\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *child {
		a := childArgs{model: *model, input: *input, threads: *threads, iters: *goIters, minTime: *goMinTime}
		if err := runChild(ctx, a, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "benchdetect:", err)
			os.Exit(1)
		}
		return
	}
	var match *regexp.Regexp
	if *only != "" {
		var err error
		if match, err = regexp.Compile(*only); err != nil {
			fmt.Fprintf(os.Stderr, "benchdetect: -only: %v\n", err)
			os.Exit(2)
		}
	}
	cfg := benchConfig{
		goldenDir: *goldenDir, shared: *shared, script: *script, python: *python, only: match,
		goIters: *goIters, goMinTime: *goMinTime, armnnIters: *armnnIters, armnn: !*noArmNN,
	}
	rep, err := measure(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdetect:", err)
		os.Exit(1)
	}
	section := rep.markdown(cfg)
	fmt.Print(section)
	if *doc != "" {
		if err := rewriteSection(*doc, section); err != nil {
			fmt.Fprintln(os.Stderr, "benchdetect:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "benchdetect: rewrote the Detect section of %s\n", *doc)
	}
}

type benchConfig struct {
	goldenDir, shared, script, python string
	only                              *regexp.Regexp
	goIters                           int
	goMinTime                         time.Duration
	armnnIters                        int
	armnn                             bool
}

// armnnRun is what armnn_bench.py prints.
type armnnRun struct {
	Runtime  string    `json:"runtime"`
	LoadS    float64   `json:"load_s"`
	WallS    []float64 `json:"wall_s"`
	CPUS     []float64 `json:"cpu_s"`
	MaxRSSKB int64     `json:"max_rss_kb"`
}

// modelResult is one golden model's measurements.
type modelResult struct {
	name, input  string // model directory name, the case whose input was fed
	goOne, goAll goRun
	armnn        *armnnRun
	armnnErr     string
}

type report struct {
	models           []modelResult
	start            time.Time
	loadStart        string
	loadEnd          string
	goVersion, cores string
}

func measure(ctx context.Context, cfg benchConfig) (*report, error) {
	cases, err := golden.Load(cfg.goldenDir)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to run its children: %w", err)
	}
	rep := &report{start: time.Now().UTC(), loadStart: loadAvg(), goVersion: runtime.Version(), cores: strconv.Itoa(runtime.NumCPU())}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.ModelName] || (cfg.only != nil && !cfg.only.MatchString(c.ModelName)) {
			continue
		}
		seen[c.ModelName] = true
		path, err := c.Model.Source.Locate(ctx, cfg.shared)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.File, err)
		}
		in := filepath.Join(filepath.Dir(c.File), c.Input.File)
		r := modelResult{name: c.ModelName, input: c.Name}
		for _, th := range []int{1, 0} {
			fmt.Fprintf(os.Stderr, "benchdetect: %s: Go, threads=%d\n", c.ModelName, th)
			g, err := runGoChild(ctx, self, cfg, path, in, th)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.ModelName, err)
			}
			if th == 1 {
				r.goOne = g
			} else {
				r.goAll = g
			}
		}
		if cfg.armnn {
			fmt.Fprintf(os.Stderr, "benchdetect: %s: Arm NN CpuRef\n", c.ModelName)
			a, err := runArmNN(ctx, cfg, path, in)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				fmt.Fprintf(os.Stderr, "benchdetect: %s: Arm NN: %v\n", c.ModelName, err)
				r.armnnErr = err.Error()
			}
			r.armnn = a
		}
		rep.models = append(rep.models, r)
	}
	if len(rep.models) == 0 {
		return nil, fmt.Errorf("%s: no golden model matches -only", cfg.goldenDir)
	}
	rep.loadEnd = loadAvg()
	return rep, nil
}

func runGoChild(ctx context.Context, self string, cfg benchConfig, model, input string, threads int) (goRun, error) {
	cmd := exec.CommandContext(ctx, self, "-child", "-model", model, "-input", input,
		"-threads", strconv.Itoa(threads), "-go-iters", strconv.Itoa(cfg.goIters), "-go-min-time", cfg.goMinTime.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return goRun{}, fmt.Errorf("threads=%d: %w: %s", threads, err, strings.TrimSpace(stderr.String()))
	}
	var g goRun
	if err := json.Unmarshal(out, &g); err != nil {
		return goRun{}, fmt.Errorf("threads=%d: reading the child's answer: %w", threads, err)
	}
	if len(g.WallNs) == 0 {
		return goRun{}, fmt.Errorf("threads=%d: no timed Invoke", threads)
	}
	return g, nil
}

func runArmNN(ctx context.Context, cfg benchConfig, model, input string) (*armnnRun, error) {
	if _, err := os.Stat(cfg.python); err != nil {
		return nil, fmt.Errorf("%w (install Arm NN with: bash internal/tools/armnn/golden.sh --only mnist)", err)
	}
	cmd := exec.CommandContext(ctx, cfg.python, cfg.script, "--model", model, "--input", input, "--iters", strconv.Itoa(cfg.armnnIters))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", cfg.script, err, lastLine(stderr.String()))
	}
	var a armnnRun
	if err := json.Unmarshal(out, &a); err != nil {
		return nil, fmt.Errorf("%s: reading its answer: %w", cfg.script, err)
	}
	if len(a.WallS) == 0 || len(a.WallS) != len(a.CPUS) {
		return nil, errors.New(cfg.script + ": no timed inference")
	}
	return &a, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// loadAvg is the first three fields of /proc/loadavg, "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
