package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// demoTotals returns the numbers of the summary's total row: generated,
// published, consumed, frames, raw bytes, wire bytes, ratio, duplicates.
func demoTotals(t *testing.T, out string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 9 && f[0] == "total" {
			return f[1:]
		}
	}
	t.Fatalf("no total row in the summary:\n%s", out)
	return nil
}

func TestDemo(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "demo", "--duration", "3s", "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	tot := demoTotals(t, string(out))
	published, _ := strconv.Atoi(tot[1])
	if published == 0 || tot[1] != tot[2] || tot[0] != tot[1] {
		t.Errorf("generated %s, published %s, consumed %s: want all equal and > 0\n%s", tot[0], tot[1], tot[2], out)
	}
	if tot[7] != "0" {
		t.Errorf("duplicates %s, want 0", tot[7])
	}
	for _, want := range []string{"node-1", "node-2", "node-3", "lag 0", "OK: consumed == published"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(string(out), "running ]"); n < 2 {
		t.Errorf("%d progress lines while running, want one a second:\n%s", n, out)
	}
}

func TestDemoPipelineFlag(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "pipelines", "examples", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "codec: zstd", "codec: lz4", 1)
	if text == string(data) {
		t.Fatal("demo.yaml no longer sets codec: zstd; update this test")
	}
	file := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "demo", "--duration", "2s", "--listen", "127.0.0.1:0", "--nodes", "1", "--pipeline", file)
	if code != 0 || !strings.Contains(string(out), "OK: consumed == published") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(string(out), "node-2") {
		t.Errorf("--nodes 1 ran more than one node:\n%s", out)
	}
}

func TestDemoErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--duration", "0s"},
		{"demo", "extra"},
		{"demo", "--nodes", "0"},
	} {
		if code, _, _ := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCLI(t, nil, "demo", "--pipeline", "/nonexistent.yaml"); code != 1 || !strings.Contains(errOut, "nonexistent") {
		t.Errorf("missing pipeline: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "demo", "--listen", "nohost"); code != 1 || !strings.Contains(errOut, "--listen") {
		t.Errorf("bad --listen: exit %d %q", code, errOut)
	}
}
