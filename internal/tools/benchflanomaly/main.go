package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/anomaly"
	"github.com/edgeflow/edgeflow/internal/fl/model"
)

func main() {
	def := anomaly.DefaultConfig()
	data := flag.String("data", "../shared/data/telosb/multihop.csv", "the TelosB readings (CSV)")
	seeds := flag.String("seeds", "1,2,3,4,5", "seeds, comma separated: one run of every setting each")
	rounds := flag.Int("rounds", def.Rounds, "federated rounds; local and centralised training run rounds×epochs epochs")
	epochs := flag.Int("epochs", def.Train.Epochs, "local epochs a round")
	lr := flag.Float64("lr", float64(def.Train.LearningRate), "SGD learning rate")
	batch := flag.Int("batch", def.Train.BatchSize, "minibatch size")
	hidden := flag.String("hidden", "16", "hidden layer widths, comma separated (\"\": logistic regression)")
	size := flag.Int("window", def.Window.Size, "readings a window")
	fraction := flag.Float64("train-fraction", def.TrainFraction, "each node's first part in time used for training")
	budget := flag.Float64("false-alarm-budget", def.FalseAlarmBudget, "fraction of a node's normal training windows allowed above its threshold")
	quant := flag.String("quantized-uplink", "int8", "run the federated setting again with update values float16 or int8 (with zstd); \"\": not")
	tune := flag.Int("tune-epochs", 1, "also tune the federated model on each node alone for this many epochs (0: not)")
	results := flag.String("results", "", "write every outcome as JSON here")
	doc := flag.String("doc", "", "rewrite the federated anomaly detection section of this Markdown file")
	command := flag.String("command", "make bench-fl-anomaly", "command to quote in the report")
	flag.Parse()

	cfg := def
	cfg.Rounds, cfg.Train.Epochs, cfg.Train.LearningRate, cfg.Train.BatchSize = *rounds, *epochs, float32(*lr), *batch
	cfg.Window.Size, cfg.TrainFraction, cfg.FalseAlarmBudget, cfg.TuneEpochs = *size, *fraction, *budget, *tune
	cfg.Window.Warmup = max(cfg.Window.Warmup, cfg.Window.Size-1)
	var err error
	if cfg.Seeds, err = parseUints(*seeds); err != nil {
		fail(fmt.Errorf("-seeds: %w", err))
	}
	if cfg.Hidden, err = parseInts(*hidden); err != nil {
		fail(fmt.Errorf("-hidden: %w", err))
	}
	switch *quant {
	case "":
	case "float16":
		cfg.QuantizedUplink = &model.EncodeOptions{Quantization: model.Float16, Compress: true}
	case "int8":
		cfg.QuantizedUplink = &model.EncodeOptions{Quantization: model.Int8, Compress: true}
	default:
		fail(fmt.Errorf("-quantized-uplink %q: want float16, int8 or nothing", *quant))
	}
	if err := run(context.Background(), cfg, *data, *results, *doc, *command, *quant); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchflanomaly:", err)
	os.Exit(1)
}

func run(ctx context.Context, cfg anomaly.Config, data, results, doc, command, quantized string) error {
	readings, err := anomaly.LoadTelosB(ctx, data)
	if err != nil {
		return err
	}
	nodes, err := anomaly.Prepare(anomaly.ByNode(readings), cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := anomaly.Run(ctx, nodes, cfg)
	if err != nil {
		return err
	}
	r := report{Report: rep, Quantized: quantized, Command: command, Seconds: time.Since(start).Seconds(), Finished: time.Now().UTC()}
	fmt.Print(r.markdown())
	if results != "" {
		b, err := json.MarshalIndent(r, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(results, b, 0o644); err != nil {
			return err
		}
	}
	if doc != "" {
		return rewriteSection(doc, r.markdown())
	}
	return nil
}

func parseUints(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
