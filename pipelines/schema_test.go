package pipelines

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
)

// testRegs are the test-only stages of load_test.go.
func testRegs() []*stages.Registration {
	var out []*stages.Registration
	for _, r := range stages.List() {
		if strings.HasPrefix(r.ID, "test-") {
			out = append(out, r)
		}
	}
	return out
}

func testSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schema, err := SchemaFor(testRegs())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("pipeline.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("pipeline.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v\n%s", err, schema)
	}
	return sch
}

func instance(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
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

// TestSchema checks the schema accepts what the loader accepts and rejects
// what editors should flag, in line with the loader.
func TestSchema(t *testing.T) {
	sch := testSchema(t)
	const src = "sources: [{type: test-src}]\n"
	const sink = "sinks: [{type: test-sink, topic: t}]\n"
	for _, tc := range []struct {
		name, yaml string
		ok         bool
	}{
		{"minimal", src + sink, true},
		{"full", "name: a-b.c\nnode_selector: {site: lab}\n" +
			"sources: [{type: test-src, count: 3, interval: 1m30s, sensors: [{name: a, interval: 250ms}], labels: {u: C}}]\n" +
			"stages: [{type: test-proc, codec: lz4, block_size: 5, ratio: 0.5, verbose: true}, {type: test-unframe}]\n" + sink, true},
		{"null stages", src + "stages:\n" + sink, true},
		{"unknown top-level key", "srcs: []\n" + src + sink, false},
		{"no sinks", src, false},
		{"empty sources", "sources: []\n" + sink, false},
		{"unknown stage", "sources: [{type: gen}]\n" + sink, false},
		{"missing type", "sources: [{count: 1}]\n" + sink, false},
		{"processor under sinks", src + "sinks: [{type: test-proc}]\n", false},
		{"unknown stage key", src + "stages: [{type: test-proc, codex: lz4}]\n" + sink, false},
		{"unknown nested key", "sources: [{type: test-src, sensors: [{name: a, intrval: 1s}]}]\n" + sink, false},
		{"bad enum", src + "stages: [{type: test-proc, codec: zip}]\n" + sink, false},
		{"bad duration", "sources: [{type: test-src, interval: 5 minutes}]\n" + sink, false},
		{"duration without unit", "sources: [{type: test-src, interval: \"5\"}]\n" + sink, false},
		{"wrong type", src + "stages: [{type: test-proc, block_size: ten}]\n" + sink, false},
		{"missing required", src + "sinks: [{type: test-sink}]\n", false},
		{"bad name", "name: bad name\n" + src + sink, false},
	} {
		err := sch.Validate(instance(t, tc.yaml))
		if tc.ok && err != nil {
			t.Errorf("%s: the schema rejects\n%s\n%v", tc.name, tc.yaml, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: the schema accepts\n%s", tc.name, tc.yaml)
		}
	}
}

func TestDurationPattern(t *testing.T) {
	re := regexp.MustCompile(DurationPattern)
	for _, s := range []string{"0", "1s", "250ms", "1m30s", "1.5h", "2h45m0.5s", "-5s", "10us", "10µs"} {
		if !re.MatchString(s) {
			t.Errorf("pattern rejects %q", s)
		}
	}
	for _, s := range []string{"", "5", "5 s", "1x", "s", "1.5"} {
		if re.MatchString(s) {
			t.Errorf("pattern accepts %q", s)
		}
	}
}

func TestStagesDocMentionsEveryField(t *testing.T) {
	doc := string(StagesDocFor(testRegs()))
	for _, want := range []string{"### source test-src", "`sensors[].interval`", "| `codec` | string | `zstd` |", "One of: `zlib`, `lz4`, `zstd`.", "| `topic` | string |  | yes |"} {
		if !strings.Contains(doc, want) {
			t.Errorf("stage reference lacks %q:\n%s", want, doc)
		}
	}
}
