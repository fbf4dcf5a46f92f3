package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
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

// variant is what -sweep may change against the paper's setting (and what
// the table of make bench-fedavg always uses: the zero value plus C=0.1,
// B=10, E=1, Glorot initialisation, pixels in [0, 1]).
type variant struct {
	fraction float64 // C; 0.01 of 100 clients is one client a round, the paper's C=0
	batch    int     // B; 0 is the whole local data set (B=∞)
	epochs   int     // E
	init     string  // glorot, or normal:σ (truncated at 2σ, TensorFlow's truncated_normal)
	initBias float64 // every bias, with normal:σ
	pixels   string  // unit [0,1], byte [0,255], standard (x−0.1307)/0.3081
	seeds    []uint64
}

func (v variant) String() string {
	b := "∞"
	if v.batch > 0 {
		b = strconv.Itoa(v.batch)
	}
	init := v.init
	if strings.HasPrefix(init, "normal:") {
		init += fmt.Sprintf(" bias %g", v.initBias)
	}
	return fmt.Sprintf("C=%g B=%s E=%d, init %s, pixels %s", v.fraction, b, v.epochs, init, v.pixels)
}

func (v variant) check() error {
	switch {
	case !(v.fraction > 0 && v.fraction <= 1):
		return fmt.Errorf("-fraction %g: want in (0, 1]", v.fraction)
	case v.batch < 0:
		return fmt.Errorf("-batch %d: want ≥ 0 (0: the whole local data set)", v.batch)
	case v.epochs < 1:
		return fmt.Errorf("-epochs %d: want ≥ 1", v.epochs)
	case len(v.seeds) == 0:
		return fmt.Errorf("-seeds: none")
	case !slices.Contains([]string{"unit", "byte", "standard"}, v.pixels):
		return fmt.Errorf("-pixels %q: want unit, byte or standard", v.pixels)
	}
	_, err := initStddev(v.init)
	return err
}

// isPaper reports whether v is the setting of the benchmark table.
func (v variant) isPaper() bool {
	return v.fraction == 0.1 && v.batch == 10 && v.epochs == 1 && v.init == "glorot" && v.pixels == "unit"
}

// initStddev is σ of normal:σ, 0 for glorot.
func initStddev(init string) (float64, error) {
	if init == "glorot" {
		return 0, nil
	}
	s, ok := strings.CutPrefix(init, "normal:")
	sd, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil || !(sd > 0) {
		return 0, fmt.Errorf("-init %q: want glorot or normal:σ with σ > 0", init)
	}
	return sd, nil
}

// initialModel is the round-1 model of v: Glorot uniform (model.NewMLP), or
// weights from a normal distribution of standard deviation σ redrawn beyond
// 2σ and every bias initBias.
func (v variant) initialModel(seed uint64, widths []int) (model.Model, error) {
	m, err := model.NewMLP(seed, widths...)
	if err != nil {
		return m, err
	}
	sd, err := initStddev(v.init)
	if err != nil || sd == 0 {
		return m, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x7f))
	for i := 0; i+1 < len(widths); i++ {
		for j, w := 0, m.Tensor(model.DenseWeights(i)); j < len(w); j++ {
			x := rng.NormFloat64()
			for math.Abs(x) > 2 {
				x = rng.NormFloat64()
			}
			w[j] = float32(x * sd)
		}
		for j, b := 0, m.Tensor(model.DenseBias(i)); j < len(b); j++ {
			b[j] = float32(v.initBias)
		}
	}
	return m, nil
}

// scalePixels rewrites d's features, loaded in [0, 1], to v.pixels.
func (v variant) scalePixels(d train.Dataset) {
	for i, x := range d.Features {
		switch v.pixels {
		case "byte":
			d.Features[i] = x * 255
		case "standard":
			d.Features[i] = (x - 0.1307) / 0.3081
		}
	}
}

// sweep runs every setting of cfg with every learning rate of the grid and
// every seed of v until the target (or the setting's round limit) and writes
// rounds to the target a rate: each seed's, then mean, standard deviation
// and range. It writes neither the results file nor the document.
func sweep(ctx context.Context, w io.Writer, cfg config, v variant, trainSet, testSet train.Dataset) error {
	v.scalePixels(trainSet)
	v.scalePixels(testSet)
	fmt.Fprintf(w, "sweep: %s; target %.2f; seeds %v\n", v, cfg.target, v.seeds)
	for _, s := range cfg.settings {
		fmt.Fprintf(w, "\n%s (round limit %d)\n| learning rate | rounds to target, seed by seed | mean | sd | min–max | seconds |\n|---:|---|---:|---:|---|---:|\n", s, int(cfg.maxRounds[s]))
		for _, lr := range cfg.grid {
			var got []int
			cells := make([]string, len(v.seeds))
			start := time.Now()
			for k, seed := range v.seeds {
				rep, err := sweepRun(ctx, cfg, v, s, lr, seed, trainSet, testSet)
				if err != nil {
					return err
				}
				best, at := 0.0, 0
				for _, r := range rep.Rounds {
					if r.TestAccuracy > best {
						best, at = r.TestAccuracy, r.Round
					}
				}
				if rep.RoundsToHit > 0 {
					cells[k] = strconv.Itoa(rep.RoundsToHit)
					got = append(got, rep.RoundsToHit)
				} else {
					cells[k] = fmt.Sprintf("— (best %.2f %% at %d)", 100*best, at)
				}
			}
			mean, sd, span := summarize(got, len(v.seeds))
			fmt.Fprintf(w, "| %g | %s | %s | %s | %s | %.0f |\n", lr, strings.Join(cells, ", "), mean, sd, span, time.Since(start).Seconds())
		}
	}
	return nil
}

// summarize is the mean, sample standard deviation and range of the
// rounds of the seeds that reached the target, "—" when some did not.
func summarize(got []int, seeds int) (mean, sd, span string) {
	if len(got) < seeds || len(got) == 0 {
		return "—", "—", "—"
	}
	var m float64
	for _, g := range got {
		m += float64(g)
	}
	m /= float64(len(got))
	var ss float64
	for _, g := range got {
		ss += (float64(g) - m) * (float64(g) - m)
	}
	sd = "—"
	if len(got) > 1 {
		sd = fmt.Sprintf("%.1f", math.Sqrt(ss/float64(len(got)-1)))
	}
	return fmt.Sprintf("%.1f", m), sd, fmt.Sprintf("%d–%d", slices.Min(got), slices.Max(got))
}

func sweepRun(ctx context.Context, cfg config, v variant, setting string, lr float64, seed uint64, trainSet, testSet train.Dataset) (simulate.Report, error) {
	var clients []train.Dataset
	var err error
	uplink := model.EncodeOptions{}
	switch setting {
	case "iid":
		clients, err = mnist.SplitIID(trainSet, 100, seed)
	case "iid-int8":
		clients, err = mnist.SplitIID(trainSet, 100, seed)
		uplink = model.EncodeOptions{Quantization: model.Int8, Compress: true}
	case "noniid":
		clients, err = mnist.SplitShards(trainSet, 100, 2, seed)
	default:
		return simulate.Report{}, fmt.Errorf("setting %q: want iid, iid-int8 or noniid", setting)
	}
	if err != nil {
		return simulate.Report{}, err
	}
	widths := []int{mnist.Pixels, 200, 200, mnist.Classes}
	initial, err := v.initialModel(seed, widths)
	if err != nil {
		return simulate.Report{}, err
	}
	batch := v.batch
	if batch == 0 {
		batch = clients[0].Len()
		for _, c := range clients {
			batch = max(batch, c.Len())
		}
	}
	rounds := int(cfg.maxRounds[setting])
	if rounds == 0 {
		rounds = 1000
	}
	return simulate.Run(ctx, simulate.Config{
		Clients: clients, Test: testSet, Widths: widths, Initial: initial,
		Train:    train.Config{LearningRate: float32(lr), BatchSize: batch, Epochs: v.epochs},
		Sampling: aggregate.Sampling{Fraction: v.fraction, Seed: seed},
		Uplink:   uplink, Rounds: rounds, StopAt: cfg.target, Seed: seed,
	}, nil)
}
