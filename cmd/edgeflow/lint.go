package main

import (
	"context"
	"fmt"

	"github.com/edgeflow/edgeflow/pipelines"
	_ "github.com/edgeflow/edgeflow/stages/all" // every standard stage
)

func init() {
	c := command{
		name:    "lint",
		summary: "check pipeline files without running them",
		usage: `Usage: edgeflow lint FILE...

Loads each pipeline file as edgeflow run would (strict YAML, every stage's
settings decoded and validated, payload kinds checked from sources through
stages to sinks, pipeline names unique across the files) without building
anything: nothing is opened or connected. Prints every problem as
FILE:LINE: PATH: message and exits 1 when there is any; otherwise prints
"ok: FILE (N sources, M stages, K sinks)" per file and exits 0.

Examples:
  edgeflow lint pipelines/examples/demo.yaml
  edgeflow lint pipelines/examples/*.yaml
  edgeflow lint /etc/edgeflow/pipelines/*.yaml && systemctl reload edgeflow`,
	}
	c.run = func(ctx context.Context, args []string, io stdio) error {
		fs := newFlagSet(c, io.err)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return errUsage
		}
		ps, err := pipelines.LoadFiles(fs.Args()...)
		problems := pipelines.Errors(err)
		bad := map[string]bool{}
		for _, e := range problems {
			fmt.Fprintln(io.out, e)
			bad[e.File] = true
		}
		for _, p := range ps {
			if !bad[p.File] {
				fmt.Fprintf(io.out, "ok: %s (%s, %s, %s)\n", p.File,
					lintPlural(len(p.Sources), "source"), lintPlural(len(p.Stages), "stage"), lintPlural(len(p.Sinks), "sink"))
			}
		}
		if len(problems) > 0 {
			return &exitError{code: 1, err: fmt.Errorf("edgeflow lint: %s in %s",
				lintPlural(len(problems), "problem"), lintPlural(len(bad), "file"))}
		}
		return nil
	}
	register(c)
}

func lintPlural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
