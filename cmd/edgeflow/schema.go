package main

import (
	"context"
	"fmt"

	"github.com/edgeflow/edgeflow/pipelines"
	_ "github.com/edgeflow/edgeflow/stages/all" // every standard stage
)

func init() {
	c := command{
		name:    "schema",
		summary: "print the JSON Schema of pipeline files, or the stage reference",
		usage: `Usage: edgeflow schema [--docs]

Prints the JSON Schema (draft 2020-12) of pipeline files for every stage
compiled into this binary; with --docs, prints the stage reference in Markdown
instead. Both are generated from the stage registry; the committed copies are
docs/pipeline.schema.json and docs/stages.md (refresh them with make generate).

Point an editor's YAML language server at the schema with a first line like:
  # yaml-language-server: $schema=../docs/pipeline.schema.json

Examples:
  edgeflow schema > docs/pipeline.schema.json
  edgeflow schema --docs > docs/stages.md`,
	}
	c.run = func(ctx context.Context, args []string, io stdio) error {
		fs := newFlagSet(c, io.err)
		docs := fs.Bool("docs", false, "print the stage reference (Markdown) instead of the JSON Schema")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return errUsage
		}
		if *docs {
			_, err := io.out.Write(pipelines.StagesDoc())
			return err
		}
		schema, err := pipelines.Schema()
		if err != nil {
			return err
		}
		if _, err := io.out.Write(schema); err != nil {
			return fmt.Errorf("write schema: %w", err)
		}
		return nil
	}
	register(c)
}
