package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/internal/placement"
	"github.com/edgeflow/edgeflow/internal/placement/placementsim"
)

func main() {
	sizes := flag.String("sizes", "10,100,1000,10000", "cluster sizes (nodes)")
	load := flag.Float64("load", 1.1, "offered CPU load of the main table, as a share of cluster CPU")
	perNode := flag.Int("arrivals-per-node", 40, "tasks per node in each run (at least 4,000, at most -max-arrivals)")
	maxArrivals := flag.Int("max-arrivals", 100000, "cap on tasks per run")
	sampleFrom := flag.Int("sample-from", 10000, "from this cluster size on, also run every algorithm with Kubernetes' adaptive sampling")
	targets := flag.String("target-acceptance", "0.99,0.95", "acceptance levels at which utilisation is compared")
	equalSizes := flag.String("equal-sizes", "100,1000", "cluster sizes for the equal-acceptance search")
	articleSeeds := flag.Int("article-seeds", 20, "seeds for the 10-node greedy vs random comparison")
	seed := flag.Uint64("seed", 1, "workload and planner seed")
	doc := flag.String("doc", "", "rewrite the scheduling section of this Markdown file")
	plotPath := flag.String("plot", "", "write a PNG plot here")
	command := flag.String("command", "make bench-schedule", "command to quote in the report")
	algorithms := flag.String("algorithms", strings.Join(placement.AlgorithmNames(), ","), "algorithms to compare (greedy, the baseline, is always run)")
	pooledSizes := flag.String("pooled-sizes", "100", "equal-acceptance cluster sizes at which the pooled-nodes reference (placementsim.RunPooled) is added (\"\": none; a 1,000-node search for one target takes about 5 min on two cores)")
	onlyEqual := flag.Bool("only-equal", false, "run only the utilisation-at-equal-acceptance search and print its table (with -doc: nothing is rewritten)")
	flag.Parse()

	if err := run(config{
		sizes: parseInts(*sizes), equalSizes: parseInts(*equalSizes), load: *load, perNode: *perNode,
		maxArrivals: *maxArrivals, sampleFrom: *sampleFrom, targets: parseFloats(*targets), articleSeeds: *articleSeeds, seed: *seed,
		doc: *doc, plot: *plotPath, command: *command, algorithms: parseAlgorithms(*algorithms), onlyEqual: *onlyEqual, pooledSizes: parseInts(*pooledSizes),
	}); err != nil {
		fmt.Fprintln(os.Stderr, "benchschedule:", err)
		os.Exit(1)
	}
}

type config struct {
	sizes, equalSizes []int
	load              float64
	targets           []float64
	perNode           int
	maxArrivals       int
	sampleFrom        int
	articleSeeds      int
	seed              uint64
	doc, plot         string
	command           string
	algorithms        []string // greedy first
	onlyEqual         bool
	pooledSizes       []int // equal-acceptance sizes that also get the pooled-nodes reference
}

// parseAlgorithms returns greedy, then the other known algorithms named in s.
func parseAlgorithms(s string) []string {
	out := []string{placement.Greedy}
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a == "" || a == placement.Greedy {
			continue
		}
		if _, err := placement.AlgorithmByName(a); err != nil {
			fmt.Fprintln(os.Stderr, "benchschedule: -algorithms:", err)
			os.Exit(2)
		}
		out = append(out, a)
	}
	return out
}

func parseFloats(s string) []float64 {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || x <= 0 || x > 1 {
			fmt.Fprintf(os.Stderr, "benchschedule: %q is not a share in (0,1]\n", f)
			os.Exit(2)
		}
		out = append(out, x)
	}
	return out
}

func parseInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "benchschedule: %q is not a positive integer\n", f)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func (c config) arrivals(nodes int) int {
	return min(max(c.perNode*nodes, 4000), c.maxArrivals)
}

func simulate(ctx context.Context, alg string, w placementsim.Workload, seed uint64) (placementsim.Result, error) {
	if alg == pooledReference {
		p, err := placement.NewPlanner(placement.Greedy, placement.Options{Seed: seed})
		if err != nil {
			return placementsim.Result{}, err
		}
		r, err := placementsim.RunPooled(ctx, p, w)
		r.Algorithm = pooledReference
		return r, err
	}
	return simulateSampled(ctx, alg, 0, w, seed)
}

// pooledReference names the rows of placementsim.RunPooled: the cluster with
// each node shape merged into one node, first come first served. It is a
// reference, not a bound: acceptance counts tasks, and a policy that turns
// away large tasks can run at a higher load for the same acceptance.
const pooledReference = "pooled nodes (reference)"

// simulateSampled runs alg scoring at most enough feasible nodes (0: all).
func simulateSampled(ctx context.Context, alg string, enough int, w placementsim.Workload, seed uint64) (placementsim.Result, error) {
	p, err := placement.NewPlanner(alg, placement.Options{Seed: seed, FeasibleNodesToScore: enough})
	if err != nil {
		return placementsim.Result{}, err
	}
	began := time.Now()
	r, err := placementsim.Run(ctx, p, w)
	if err != nil {
		return r, fmt.Errorf("%s, %d nodes, load %.2f: %w", alg, w.Nodes, w.Load, err)
	}
	if enough > 0 {
		r.Algorithm = fmt.Sprintf("%s, %d sampled", alg, enough)
	}
	fmt.Fprintf(os.Stderr, "benchschedule: %-8s n=%-5d load=%.3f accept=%.3f cpu=%.3f mem=%.3f frag=%.3f p50=%v p99=%v cpu-p99=%v (%d decisions, %.1fs)\n",
		r.Algorithm, w.Nodes, w.Load, r.AcceptanceRate(), r.CPUUtilisation, r.MemoryUtilisation, r.Fragmentation,
		r.LatencyP50, r.LatencyP99, r.CPUP99, r.Decisions, time.Since(began).Seconds())
	return r, nil
}

func run(c config) error {
	ctx := context.Background()
	rep := report{config: c, started: time.Now(), loadStart: loadAverage()}
	algs := c.algorithms
	if len(algs) == 0 {
		algs = placement.AlgorithmNames()
	}
	if c.onlyEqual {
		var err error
		if rep.equal, err = equalTable(ctx, c, algs); err != nil {
			return err
		}
		os.Stdout.WriteString(rep.equalMarkdown())
		return nil
	}

	// 1. The article's claim: greedy vs random on 10 nodes, several seeds.
	for _, l := range []float64{0.7, c.load} {
		row := articleRow{load: l}
		for s := range c.articleSeeds {
			w := placementsim.Workload{Nodes: 10, Load: l, Arrivals: c.arrivals(10), Seed: c.seed + uint64(s)}
			g, err := simulate(ctx, placement.Greedy, w, c.seed)
			if err != nil {
				return err
			}
			r, err := simulate(ctx, placement.Random, w, c.seed)
			if err != nil {
				return err
			}
			row.greedy = append(row.greedy, g)
			row.random = append(row.random, r)
		}
		rep.article = append(rep.article, row)
	}

	// 2. Every algorithm at every size, one load.
	for _, n := range c.sizes {
		w := placementsim.Workload{Nodes: n, Load: c.load, Arrivals: c.arrivals(n), Seed: c.seed}
		var rows []placementsim.Result
		for _, a := range algs {
			r, err := simulate(ctx, a, w, c.seed)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		if n >= c.sampleFrom { // Kubernetes-style sampling, to compare with the exact scan
			for _, a := range algs {
				r, err := simulateSampled(ctx, a, placement.AdaptiveNodesToScore(n), w, c.seed)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
		}
		rep.sizes = append(rep.sizes, rows)
	}

	// 3. Utilisation at equal acceptance: the load at which each algorithm
	// accepts the target share, found by bisection.
	var err error
	if rep.equal, err = equalTable(ctx, c, algs); err != nil {
		return err
	}

	// 4. Acceptance against utilisation over a sweep of loads (for the plot).
	for _, a := range algs {
		var pts []placementsim.Result
		for _, l := range []float64{0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.6} {
			r, err := simulate(ctx, a, placementsim.Workload{Nodes: 100, Load: l, Arrivals: c.arrivals(100), Seed: c.seed}, c.seed)
			if err != nil {
				return err
			}
			pts = append(pts, r)
		}
		rep.sweep = append(rep.sweep, pts)
	}

	text := rep.markdown()
	os.Stdout.WriteString(text)
	if c.doc != "" {
		if err := rewriteSection(c.doc, text); err != nil {
			return err
		}
	}
	if c.plot != "" {
		if err := rep.drawPlot(c.plot); err != nil {
			return err
		}
	}
	return nil
}

type articleRow struct {
	load           float64
	greedy, random []placementsim.Result
}

type equalRow struct {
	alg    string
	nodes  int
	target float64
	load   float64
	result placementsim.Result
	steps  []placementsim.Result // every run of the bisection, result among them
}

// equalTable runs equalAcceptance for every target, size and algorithm (and
// the pooled-nodes reference at the sizes of c.pooledSizes).
func equalTable(ctx context.Context, c config, algs []string) ([]equalRow, error) {
	var rows []equalRow
	for _, target := range c.targets {
		for _, n := range c.equalSizes {
			withRef := algs
			if slices.Contains(c.pooledSizes, n) {
				withRef = append(slices.Clone(algs), pooledReference)
			}
			for _, a := range withRef {
				e, err := equalAcceptance(ctx, c, a, n, target)
				if err != nil {
					return nil, err
				}
				rows = append(rows, e)
			}
		}
	}
	return rows, nil
}

// equalAcceptance bisects the offered load for the highest load at which alg
// still accepts at least target of the tasks.
func equalAcceptance(ctx context.Context, c config, alg string, nodes int, target float64) (equalRow, error) {
	lo, hi := 0.3, 3.0
	var best placementsim.Result
	var steps []placementsim.Result
	bestLoad := 0.0
	for range 8 {
		mid := (lo + hi) / 2
		r, err := simulate(ctx, alg, placementsim.Workload{Nodes: nodes, Load: mid, Arrivals: c.arrivals(nodes), Seed: c.seed}, c.seed)
		if err != nil {
			return equalRow{}, err
		}
		steps = append(steps, r)
		if r.AcceptanceRate() >= target {
			lo, best, bestLoad = mid, r, mid
		} else {
			hi = mid
		}
	}
	return equalRow{alg: alg, nodes: nodes, target: target, load: bestLoad, result: best, steps: steps}, nil
}
