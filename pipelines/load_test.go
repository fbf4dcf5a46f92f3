package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"golang.org/x/tools/txtar"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txtar")

// Test-only stages, so the loader tests depend on no stage package.

type testSensor struct {
	Name     string        `yaml:"name" doc:"Sensor name."`
	Interval time.Duration `yaml:"interval" doc:"Sampling interval."`
}

type testSourceConfig struct {
	Count    int               `yaml:"count" doc:"Readings to produce."`
	Interval time.Duration     `yaml:"interval" doc:"Time between readings."`
	Sensors  []testSensor      `yaml:"sensors" doc:"Sensors to simulate."`
	Labels   map[string]string `yaml:"labels" doc:"Labels to add."`
}

func (c *testSourceConfig) Validate() error {
	if c.Count < 0 {
		return stages.FieldErrorf("count", "count %d must be >= 0", c.Count)
	}
	var errs []error
	for i, s := range c.Sensors {
		if s.Name == "" {
			errs = append(errs, stages.FieldErrorf(fmt.Sprintf("sensors[%d].name", i), "sensor name is empty"))
		}
	}
	return errors.Join(errs...)
}

type testProcConfig struct {
	Codec     string  `yaml:"codec" doc:"Back end." enum:"zlib|lz4|zstd"`
	BlockSize int     `yaml:"block_size" doc:"Readings per frame."`
	Level     uint8   `yaml:"level" doc:"Level."`
	Ratio     float64 `yaml:"ratio" doc:"Ratio."`
	Verbose   bool    `yaml:"verbose" doc:"Log more."`
}

func (c *testProcConfig) Validate() error {
	switch c.Codec {
	case "zlib", "lz4", "zstd":
	default:
		return stages.FieldErrorf("codec", "codec %q unknown (want zlib|lz4|zstd)", c.Codec)
	}
	if c.BlockSize < 1 {
		return stages.FieldErrorf("block_size", "must be at least 1")
	}
	return nil
}

type testSinkConfig struct {
	Topic string `yaml:"topic" doc:"Topic." required:"true"`
}

func (c *testSinkConfig) Validate() error {
	if c.Topic == "" {
		return stages.FieldErrorf("topic", "topic is required")
	}
	return nil
}

type testEmptyConfig struct{}

func (*testEmptyConfig) Validate() error { return nil }

type testStage struct{}

func (testStage) Read(ctx context.Context, emit stages.EmitFunc) error { return nil }
func (testStage) Process(ctx context.Context, m *message.Message) ([]*message.Message, error) {
	return []*message.Message{m}, nil
}
func (testStage) Write(ctx context.Context, msgs []*message.Message) error { return nil }

func init() {
	src := func(ctx context.Context, _ *testSourceConfig, _ stages.Env) (stages.Source, error) {
		return testStage{}, nil
	}
	stages.RegisterSource(stages.Info{ID: "test-src", Summary: "readings", Produces: []string{stages.KindReadings}},
		func() *testSourceConfig { return &testSourceConfig{Count: 10, Interval: time.Second} }, src)
	stages.RegisterSource(stages.Info{ID: "test-frames", Summary: "frames", Produces: []string{stages.KindFrame}},
		func() *testSourceConfig { return &testSourceConfig{} }, src)
	stages.RegisterProcessor(stages.Info{ID: "test-proc", Summary: "readings to frames",
		Consumes: []string{stages.KindReadings}, Produces: []string{stages.KindFrame}},
		func() *testProcConfig { return &testProcConfig{Codec: "zstd", BlockSize: 100} },
		func(ctx context.Context, _ *testProcConfig, _ stages.Env) (stages.Processor, error) {
			return testStage{}, nil
		})
	stages.RegisterProcessor(stages.Info{ID: "test-unframe", Summary: "frames to readings",
		Consumes: []string{stages.KindFrame}, Produces: []string{stages.KindReadings}},
		func() *testEmptyConfig { return &testEmptyConfig{} },
		func(ctx context.Context, _ *testEmptyConfig, _ stages.Env) (stages.Processor, error) {
			return testStage{}, nil
		})
	stages.RegisterSink(stages.Info{ID: "test-sink", Summary: "anything"},
		func() *testSinkConfig { return &testSinkConfig{} },
		func(ctx context.Context, _ *testSinkConfig, _ stages.Env) (stages.Sink, error) {
			return testStage{}, nil
		})
	stages.RegisterSink(stages.Info{ID: "test-frame-sink", Summary: "frames only", Consumes: []string{stages.KindFrame}},
		func() *testEmptyConfig { return &testEmptyConfig{} },
		func(ctx context.Context, _ *testEmptyConfig, _ stages.Env) (stages.Sink, error) {
			return testStage{}, nil
		})
}

// dump is a normalised, deterministic text form of a loaded pipeline.
func dump(p *Pipeline) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %q file %s\n", p.Name, p.File)
	if len(p.NodeSelector) > 0 {
		keys := make([]string, 0, len(p.NodeSelector))
		for k := range p.NodeSelector {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "node_selector %s=%s\n", k, p.NodeSelector[k])
		}
	}
	for _, list := range [][]Step{p.Sources, p.Stages, p.Sinks} {
		for _, s := range list {
			fmt.Fprintf(&b, "%s line %d: %s\n", s.Path, s.Line, configJSON(s.Config))
			if s.Spool != nil {
				fmt.Fprintf(&b, "%s spool: %+v (default: %t)\n", s.Path, *s.Spool, s.spoolImplicit)
			}
		}
	}
	return b.String()
}

func configJSON(cfg stages.Config) string {
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return "marshal: " + err.Error()
	}
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return "unmarshal: " + err.Error()
	}
	j, err := json.Marshal(v)
	if err != nil {
		return "json: " + err.Error()
	}
	return string(j)
}

// TestGolden loads the YAML files of each testdata/*.txtar archive (with
// LoadFiles, in archive order) and compares the dump or the errors with the
// archive's "want" file. Run with -update to rewrite "want".
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Errorf("only %d golden cases; want at least 15", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var paths []string
			wantIdx := -1
			for i, f := range ar.Files {
				if f.Name == "want" {
					wantIdx = i
					continue
				}
				p := filepath.Join(dir, f.Name)
				if err := os.WriteFile(p, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, f.Name)
			}
			t.Chdir(dir)
			ps, err := loadFiles(paths, isTestStage)
			var got strings.Builder
			for _, p := range ps {
				got.WriteString(dump(p))
			}
			if err != nil {
				for _, e := range Errors(err) {
					fmt.Fprintf(&got, "error: %s\n", e)
				}
			}
			if *update {
				if wantIdx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "want"})
					wantIdx = len(ar.Files) - 1
				}
				ar.Files[wantIdx].Data = []byte(got.String())
				if err := os.WriteFile(filepath.Join(mustGetwdOrig(t), file), txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if wantIdx < 0 {
				t.Fatalf("%s has no \"want\" file; run go test ./pipelines -run TestGolden -update", file)
			}
			if want := string(ar.Files[wantIdx].Data); got.String() != want {
				t.Errorf("%s: got\n%s\nwant\n%s\n(run go test ./pipelines -run TestGolden -update if the change is intended)", file, got.String(), want)
			}
		})
	}
}

// isTestStage limits the golden tests to this file's stages, whatever else
// the test binary registers.
func isTestStage(r *stages.Registration) bool { return strings.HasPrefix(r.ID, "test-") }

var origWD, _ = os.Getwd()

func mustGetwdOrig(t *testing.T) string {
	if origWD == "" {
		t.Fatal("no working directory")
	}
	return origWD
}

func TestErrorIsLocated(t *testing.T) {
	_, err := Load("x.yaml", []byte("sources:\n  - type: test-src\nstages:\n  - type: test-proc\n    codec: zip\nsinks:\n  - type: test-sink\n    topic: t\n"))
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *pipelines.Error", err)
	}
	if pe.File != "x.yaml" || pe.Line != 5 || pe.Path != "stages[0] (test-proc)" {
		t.Errorf("got %+v; want x.yaml line 5 stages[0] (test-proc)", pe)
	}
	want := `x.yaml:5: stages[0] (test-proc): codec "zip" unknown (want zlib|lz4|zstd)`
	if pe.Error() != want {
		t.Errorf("got %q\nwant %q", pe.Error(), want)
	}
	if stages.FieldOf(err) != "codec" {
		t.Errorf("FieldOf = %q; want codec (the FieldError stays reachable)", stages.FieldOf(err))
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("testdata/no-such-file.yaml")
	var pe *Error
	if !errors.As(err, &pe) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v; want a *Error wrapping os.ErrNotExist", err)
	}
}

func TestNormalizeEntry(t *testing.T) {
	want := "type: test-proc\ncodec: lz4\n"
	for _, in := range []string{
		"type: test-proc\ncodec: lz4\n",
		"- type: test-proc\n  codec: lz4\n",
		"test-proc:\n  codec: lz4\n",
		"codec: lz4",
		"{codec: lz4}",
	} {
		got, err := NormalizeEntry("test-proc", in)
		if err != nil || got != want {
			t.Errorf("NormalizeEntry(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := NormalizeEntry("test-proc", ""); err != nil || got != "type: test-proc\n" {
		t.Errorf("empty: got %q, %v", got, err)
	}
	if _, err := NormalizeEntry("test-proc", "type: other\n"); err == nil {
		t.Errorf("an entry of another type was accepted")
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txtar")
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, af := range ar.Files {
			if af.Name != "want" {
				f.Add(af.Data)
			}
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("sources: [{type: test-src, sensors: [{name: a, interval: 1s}]}]\nsinks: [{type: test-sink, topic: t}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data)
		if err == nil && p == nil {
			t.Fatal("nil pipeline without error")
		}
		if err != nil {
			for _, e := range Errors(err) {
				if e.File != "fuzz.yaml" {
					t.Fatalf("error without the file name: %v", e)
				}
			}
		}
	})
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// Each level repeats the previous one ten times: 10^8 strings if expanded.
	var b strings.Builder
	b.WriteString("- &a0 [s, s, s, s, s, s, s, s, s, s]\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&b, "- &a%d [", i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	bomb := doc.Content[0].Content[7]
	l := &loader{file: "bomb.yaml"}
	start := time.Now()
	l.check(bomb, reflect.TypeOf([][][][][][][][]string{}), "sources[0] (test-src)", "matrix")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("checking an alias bomb took %v", d)
	}
	if len(l.errs) != 1 || !strings.Contains(l.errs[0].Error(), "too large") {
		t.Errorf("got errors %v; want one saying the settings are too large", l.errs)
	}
}
