package pipelines_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/all"
)

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example pipelines in examples/")
	}
	return files
}

// missingStages lists the stage IDs a pipeline file names that are compiled
// in under no kind.
func missingStages(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil // the loader reports it
	}
	var missing []string
	for _, section := range []string{"sources", "stages", "sinks"} {
		list, _ := doc[section].([]any)
		for _, item := range list {
			entry, _ := item.(map[string]any)
			id, _ := entry["type"].(string)
			known := false
			for _, k := range []stages.Kind{stages.KindSource, stages.KindProcessor, stages.KindSink} {
				if _, ok := stages.Lookup(k, id); ok {
					known = true
				}
			}
			if !known {
				missing = append(missing, id)
			}
		}
	}
	return missing
}

// skipIfMissingStages skips (fails in CI) an example whose stages are not in stages/all.
func skipIfMissingStages(t *testing.T, file string) {
	t.Helper()
	if missing := missingStages(t, file); len(missing) > 0 {
		msg := fmt.Sprintf("%s uses stages not compiled in (add them to stages/all): %s", file, strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipped: " + msg)
	}
}

// TestExamples loads every example pipeline with the standard stages, each
// alone and then all together (pipeline names must be unique).
func TestExamples(t *testing.T) {
	files := exampleFiles(t)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			skipIfMissingStages(t, file)
			p, err := pipelines.LoadFile(file)
			for _, e := range pipelines.Errors(err) {
				t.Error(e)
			}
			if p != nil && p.Name != strings.TrimSuffix(filepath.Base(p.File), ".yaml") {
				t.Errorf("%s: name %q differs from the file name", p.File, p.Name)
			}
		})
	}
	var ok []string
	for _, file := range files {
		if len(missingStages(t, file)) == 0 {
			ok = append(ok, file)
		}
	}
	if _, err := pipelines.LoadFiles(ok...); err != nil {
		t.Errorf("loading the examples together: %v", err)
	}
}

// TestDemoExample checks the pipeline edgeflow demo runs: generate → encode → kafka.
func TestDemoExample(t *testing.T) {
	skipIfMissingStages(t, "examples/demo.yaml")
	p, err := pipelines.LoadFile("examples/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, list := range [][]pipelines.Step{p.Sources, p.Stages, p.Sinks} {
		for _, s := range list {
			got = append(got, s.Reg.ID)
		}
	}
	if strings.Join(got, " ") != "generate encode kafka" {
		t.Errorf("demo.yaml has the steps %v; want generate → encode → kafka", got)
	}
}

func compileSchema(t *testing.T, schema []byte) *jsonschema.Schema {
	t.Helper()
	return compileSchemaAt(t, schema, "pipeline.schema.json")
}

// compileSchemaAt compiles the schema at loc, a location inside it.
func compileSchemaAt(t *testing.T, schema []byte, loc string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("pipeline.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

func yamlToJSONValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestExamplesMatchSchema validates every example pipeline, and every stage's
// examples wrapped in a pipeline, against the generated JSON Schema.
func TestExamplesMatchSchema(t *testing.T) {
	schema, err := pipelines.Schema()
	if err != nil {
		t.Fatal(err)
	}
	sch := compileSchema(t, schema)
	for _, file := range exampleFiles(t) {
		if missing := missingStages(t, file); len(missing) > 0 {
			t.Logf("%s not checked against the schema: stages %v are not compiled in (see TestExamples)", file, missing)
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlToJSONValue(t, data)); err != nil {
			t.Errorf("%s does not match the schema: %v", file, err)
		}
	}
	for _, r := range stages.List() {
		entrySchema := compileSchemaAt(t, schema, "pipeline.schema.json#/$defs/"+string(r.Kind))
		for _, ex := range r.Examples {
			entry, err := pipelines.NormalizeEntry(r.ID, ex.YAML)
			if err != nil {
				t.Errorf("%s %q example %q: %v", r.Kind, r.ID, ex.Title, err)
				continue
			}
			if err := entrySchema.Validate(yamlToJSONValue(t, []byte(entry))); err != nil {
				t.Errorf("%s %q example %q does not match the schema: %v", r.Kind, r.ID, ex.Title, err)
			}
		}
	}
}
