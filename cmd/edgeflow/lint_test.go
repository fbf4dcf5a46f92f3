package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// Stages for the lint tests, independent of which standard stages exist.
// Their IDs start with "clitest-" so they are easy to tell from standard stages.

type clitestConfig struct {
	Topic string `yaml:"topic" doc:"Topic."`
}

func (*clitestConfig) Validate() error { return nil }

type clitestStage struct{}

func (clitestStage) Read(ctx context.Context, emit stages.EmitFunc) error  { return nil }
func (clitestStage) Write(ctx context.Context, m []*message.Message) error { return nil }

func init() {
	stages.RegisterSource(stages.Info{ID: "clitest-src", Summary: "test", Produces: []string{stages.KindReadings}},
		func() *clitestConfig { return &clitestConfig{} },
		func(ctx context.Context, _ *clitestConfig, _ stages.Env) (stages.Source, error) {
			return clitestStage{}, nil
		})
	stages.RegisterSink(stages.Info{ID: "clitest-sink", Summary: "test"},
		func() *clitestConfig { return &clitestConfig{} },
		func(ctx context.Context, _ *clitestConfig, _ stages.Env) (stages.Sink, error) {
			return clitestStage{}, nil
		})
}

func lintTestRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

func lintTestWrite(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLint(t *testing.T) {
	dir := t.TempDir()
	good := lintTestWrite(t, dir, "good.yaml", "sources:\n  - type: clitest-src\nsinks:\n  - type: clitest-sink\n  - type: clitest-sink\n    topic: t\n")
	bad := lintTestWrite(t, dir, "bad.yaml", "sources:\n  - type: clitest-src\n    topik: t\nsinks:\n  - type: clitst-sink\n")

	code, out, stderr := lintTestRun(t, "lint", good)
	if code != 0 || out != "ok: "+good+" (1 source, 0 stages, 2 sinks)\n" {
		t.Errorf("lint good: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	code, out, stderr = lintTestRun(t, "lint", good, bad)
	want := []string{
		bad + `:3: sources[0] (clitest-src): unknown field "topik" (did you mean "topic"?)`,
		bad + `:5: sinks[0]: sink "clitst-sink" unknown (did you mean "clitest-sink"?)`,
		"ok: " + good + " (1 source, 0 stages, 2 sinks)",
	}
	if code != 1 {
		t.Errorf("lint bad: exit %d; want 1", code)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("lint bad: stdout lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(stderr, "2 problems in 1 file") {
		t.Errorf("lint bad: stderr %q lacks the summary", stderr)
	}

	if code, _, _ := lintTestRun(t, "lint"); code != 2 {
		t.Errorf("lint without files: exit %d; want 2 (usage)", code)
	}
	if code, out, _ := lintTestRun(t, "lint", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(out, "missing.yaml") {
		t.Errorf("lint missing file: exit %d, stdout %q", code, out)
	}
	if code, _, stderr := lintTestRun(t, "lint", "--help"); code != 0 || !strings.Contains(stderr, "Examples:") {
		t.Errorf("lint --help: exit %d, output %q", code, stderr)
	}
}
