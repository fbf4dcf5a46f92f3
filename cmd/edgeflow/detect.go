package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeflow/edgeflow/internal/tflite"
	"github.com/edgeflow/edgeflow/stages/detect"
	"github.com/edgeflow/edgeflow/stages/images"
)

func init() {
	c := command{
		name:    "detect",
		summary: "run a TensorFlow Lite model on pictures and print classes or detections",
		usage: `Usage: edgeflow detect [flags] MODEL IMAGE...

Runs MODEL on each JPEG, PNG or BMP picture exactly as the detect stage of a
pipeline does (same preprocessing: Pillow-compatible antialiased bilinear
resize to the model's input, quantised as the input says; same interpreter)
and prints what it found: for SSD models (those ending in
TFLite_Detection_PostProcess) the detections at or above -threshold with
their labels, scores and boxes (normalised, and in the picture's pixels); for
other models the -top-k classes. Labels come from -labels, else from a label
file found beside the model (labelmap.txt, labels.txt, <model>.txt …).
-json prints the stage's JSON results instead, one line per picture.
Flags go before MODEL. A picture that cannot be read or decoded is reported
and makes the command exit 1; the others are still processed.

Examples:
  edgeflow detect detect.tflite example.jpg
  edgeflow detect -threshold 0.3 -labels coco.txt detect.tflite cam/*.jpg
  edgeflow detect -top-k 3 mobilenet_v2_1.0_224_quant.tflite cat.bmp
  edgeflow detect -json -output raw mnist_model.tflite 3.png`,
	}
	c.run = func(ctx context.Context, args []string, stdio stdio) error {
		fs := newFlagSet(c, stdio.err)
		labels := fs.String("labels", "", "label file (one label per line); default: found beside the model")
		output := fs.String("output", "", "how to read the outputs: classify, ssd, score or raw; default: ssd for SSD models, else classify")
		threshold := fs.Float64("threshold", -1, "drop detections and classes scoring below it; default 0.5 for ssd, 0 otherwise")
		topK := fs.Int("top-k", -1, "keep at most this many classes or detections, 0 all; default 5 for classify, all for ssd")
		mean := fs.Float64("mean", 0, "input normalisation (v - mean) / std; see docs/detect.md")
		std := fs.Float64("std", 0, "input normalisation divisor; 0: the model's input decides")
		asJSON := fs.Bool("json", false, "print the stage's JSON result per picture")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() < 2 {
			return errUsage
		}
		cfg := detect.DefaultConfig()
		cfg.Model, cfg.Labels, cfg.Mean, cfg.Std = fs.Arg(0), *labels, *mean, *std
		cfg.Output = *output
		if cfg.Output == "" {
			cfg.Output = detect.OutputClassify
			if isSSD(cfg.Model) {
				cfg.Output = detect.OutputSSD
			}
		}
		cfg.Threshold = *threshold
		if cfg.Threshold < 0 {
			cfg.Threshold = 0
			if cfg.Output == detect.OutputSSD {
				cfg.Threshold = 0.5
			}
		}
		cfg.TopK = *topK
		if cfg.TopK < 0 {
			cfg.TopK = detect.DefaultTopK
			if cfg.Output == detect.OutputSSD {
				cfg.TopK = 0
			}
		}
		if err := cfg.Validate(); err != nil {
			return err // printed as "edgeflow detect: ..." by main
		}
		d, err := detect.New(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		if !*asJSON {
			m := d.Model()
			lf := d.LabelFile()
			if lf == "" {
				lf = "none"
			}
			fmt.Fprintf(stdio.out, "model %s (sha256 %s), output %s, labels %s\n", cfg.Model, m.SHA256[:12], cfg.Output, lf)
		}
		var failed []string
		for _, path := range fs.Args()[1:] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := detectOne(ctx, d, path, *asJSON, stdio.out); err != nil {
				fmt.Fprintf(stdio.err, "%s: %v\n", path, err)
				failed = append(failed, path)
			}
		}
		if len(failed) > 0 {
			return &exitError{code: 1, err: errors.New("edgeflow detect: failed: " + strings.Join(failed, ", "))}
		}
		return nil
	}
	register(c)
}

// isSSD reports whether a model ends in TFLite_Detection_PostProcess; a model
// that does not load is left for detect.New to report.
func isSSD(path string) bool {
	m, err := tflite.LoadFile(path)
	if err != nil {
		return false
	}
	for _, op := range m.Main().Operators {
		if op.Op == "TFLite_Detection_PostProcess" {
			return true
		}
	}
	return false
}

func detectOne(ctx context.Context, d *detect.Detector, path string, asJSON bool, w io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	format, _ := images.CheckPicture(data) // Process reports what is wrong
	msg := images.NewMessage(data, filepath.Base(path), format)
	out, err := d.Process(ctx, msg)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := w.Write(out[0].Payload)
		return err
	}
	var res detect.Result
	if err := json.Unmarshal(out[0].Payload, &res); err != nil {
		return err
	}
	in := res.Input
	fmt.Fprintf(w, "%s (%s %d×%d): ", path, in.Format, in.Width, in.Height)
	switch res.Kind {
	case detect.OutputSSD:
		fmt.Fprintf(w, "%d detections, %.1f ms\n", len(res.Detections), float64(res.Micros)/1000)
		for _, det := range res.Detections {
			b := det.Box
			px := func(v float64, size int) int { return int(v*float64(size) + 0.5) }
			fmt.Fprintf(w, "  %-14s %.3f  box [ymin %.3f xmin %.3f ymax %.3f xmax %.3f]  pixels x %d–%d y %d–%d\n",
				labelOr(det.Label, det.Class), det.Score, b.YMin, b.XMin, b.YMax, b.XMax,
				px(b.XMin, in.Width), px(b.XMax, in.Width), px(b.YMin, in.Height), px(b.YMax, in.Height))
		}
	case detect.OutputClassify:
		fmt.Fprintf(w, "%d classes, %.1f ms\n", len(res.Classes), float64(res.Micros)/1000)
		for _, c := range res.Classes {
			if c.Label == "" {
				fmt.Fprintf(w, "  class %-24d %.4f\n", c.Index, c.Score)
				continue
			}
			fmt.Fprintf(w, "  %-30s %.4f  (class %d)\n", c.Label, c.Score, c.Index)
		}
	default:
		fmt.Fprintf(w, "%.1f ms\n", float64(res.Micros)/1000)
		b, _ := json.MarshalIndent(struct {
			Score   *float64           `json:"score,omitempty"`
			Anomaly *bool              `json:"anomaly,omitempty"`
			Outputs []detect.RawOutput `json:"outputs,omitempty"`
		}{res.Score, res.Anomaly, res.Outputs}, "  ", "  ")
		fmt.Fprintf(w, "  %s\n", b)
	}
	return nil
}

func labelOr(label string, class int) string {
	if label != "" {
		return label
	}
	return fmt.Sprintf("class %d", class)
}
