package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/edgeflow/edgeflow/internal/tflite"
)

func init() {
	c := command{
		name:    "model",
		summary: "describe TensorFlow Lite models: inputs, outputs, operators",
		usage: `Usage: edgeflow model [-check] FILE...

Loads each .tflite file as the detect stage would (every offset, index and
shape checked) and prints its inputs and outputs (index, name, type, shape,
quantization), its operators with their counts, the operators edgeflow's
interpreter does not support, and its signature defs. With -check, exits 1
when a model uses an unsupported operator. A file that is not a valid model
is reported with the place of the problem and makes the command exit 1.

Examples:
  edgeflow model detect.tflite
  edgeflow model -check models/*.tflite`,
	}
	c.run = func(ctx context.Context, args []string, io stdio) error {
		fs := newFlagSet(c, io.err)
		check := fs.Bool("check", false, "exit 1 when a model uses an operator edgeflow does not support")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return errUsage
		}
		var failed []string
		for i, path := range fs.Args() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(io.out)
			}
			m, err := tflite.LoadFile(path)
			if err != nil {
				fmt.Fprintln(io.out, err)
				failed = append(failed, path)
				continue
			}
			describeModel(io.out, path, m)
			if *check && m.CheckSupported() != nil {
				failed = append(failed, path)
			}
		}
		if len(failed) > 0 {
			return &exitError{code: 1, err: errors.New("edgeflow model: " + strings.Join(failed, ", "))}
		}
		return nil
	}
	register(c)
}

func describeModel(w io.Writer, path string, m *tflite.Model) {
	g := m.Main()
	fmt.Fprintf(w, "%s: %q, schema %d, %d subgraph(s); subgraph 0: %d tensors, %d operators\n",
		path, m.Description, m.Version, len(m.Subgraphs), len(g.Tensors), len(g.Operators))
	for _, part := range []struct {
		name string
		idx  []int
	}{{"inputs", g.Inputs}, {"outputs", g.Outputs}} {
		fmt.Fprintf(w, "%s:\n", part.name)
		for _, i := range part.idx {
			fmt.Fprintf(w, "  [%d] %s\n", i, g.Tensors[i].String())
		}
	}
	fmt.Fprintln(w, "operators:")
	for _, c := range m.Ops() {
		mark := ""
		if !tflite.IsSupported(c.Op) {
			mark = "  (unsupported)"
		}
		fmt.Fprintf(w, "  %-30s %4d%s\n", c.Op, c.Count, mark)
	}
	for _, op := range g.Operators {
		if o, ok := op.Options.(*tflite.DetectionPostProcessOptions); ok {
			fmt.Fprintf(w, "  %s options: %+v\n", op.Op, *o)
		}
	}
	if err := m.CheckSupported(); err != nil {
		fmt.Fprintf(w, "unsupported: %s\n", strings.Join(m.UnsupportedOps(), ", "))
	} else {
		fmt.Fprintln(w, "unsupported: none")
	}
	for _, sd := range m.SignatureDefs {
		fmt.Fprintf(w, "signature %q (subgraph %d): inputs %s; outputs %s\n", sd.Key, sd.Subgraph,
			tensorMaps(sd.Inputs), tensorMaps(sd.Outputs))
	}
}

func tensorMaps(ms []tflite.TensorMap) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%s=[%d]", m.Name, m.Tensor)
	}
	return strings.Join(parts, ", ")
}
