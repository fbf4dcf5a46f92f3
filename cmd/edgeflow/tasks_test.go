package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

func TestScheduleAndTasksErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("tasks:\n  - id: a\n    pipeline: p\n  - id: b\n    resources: {cpu: lots}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"schedule: unknown algorithm", []string{"schedule", "--algorithm", "fastest"}, 2, []string{"--algorithm", "fastest"}},
		{"schedule: bad timeout", []string{"schedule", "--timeout", "0s"}, 2, []string{"--timeout"}},
		{"schedule: bad topic", []string{"schedule", "--task-topic", "a b"}, 2, []string{"--task-topic"}},
		{"schedule: argument", []string{"schedule", "extra"}, 2, []string{"Usage: edgeflow schedule"}},
		{"tasks: no action", []string{"tasks"}, 2, []string{"Usage: edgeflow tasks"}},
		{"tasks: unknown action", []string{"tasks", "run"}, 2, []string{`unknown action "run"`}},
		{"tasks submit: no file", []string{"tasks", "submit"}, 2, []string{"Usage: edgeflow tasks"}},
		{"tasks submit: problems, nothing sent", []string{"tasks", "submit", "--brokers", "127.0.0.1:1", bad}, 1,
			[]string{bad + ":4: tasks[1]: task b: resources.cpu", "nothing was sent"}},
		{"tasks submit: missing file", []string{"tasks", "submit", filepath.Join(dir, "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"tasks delete: bad id", []string{"tasks", "delete", "a/b"}, 2, []string{"task id"}},
		{"run: pipelines dir without assignments", []string{"run", "--pipelines-dir", dir, bad}, 2, []string{"--pipelines-dir needs --assignments"}},
		{"help", []string{"tasks", "--help"}, 0, []string{"near_site", "Examples:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestPrintTasksTable(t *testing.T) {
	tasks := map[string]fleet.Task{
		"boiler-a": {ID: "boiler-a", Pipeline: "boiler", Priority: 10, Group: "boiler",
			Resources:   fleet.Resources{MilliCPU: 250, MemoryBytes: 64 << 20},
			Constraints: fleet.Constraints{Labels: map[string]string{"arch": "arm64"}, Spread: fleet.Spread{MaxPerNode: 1}}},
		"cam": {ID: "cam", PipelineYAML: "name: cam", Constraints: fleet.Constraints{Accelerator: "npu", NearSite: "plant-1"}},
	}
	var out bytes.Buffer
	printTasksTable(&out, tasks, map[string]string{"boiler-a": "gw-1"}, map[string]string{"cam": "0/2 nodes can take it: 2 no accelerator of the kind"})
	want := `TASK      NODE     PIPELINE  PRIORITY  CPU   MEMORY   CONSTRAINTS                                              WAITING BECAUSE
boiler-a  gw-1     boiler    10        0.25  64.0MiB  labels arch=arm64; spread boiler max/node 1 zone skew 0  -
cam       pending  (inline)  0         0.00  0B       near plant-1; accelerator npu                            0/2 nodes can take it: 2 no accelerator of the kind
`
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestTasksKafka submits, lists and deletes tasks on the real broker.
func TestTasksKafka(t *testing.T) {
	brokers := strings.Join(testenv.RequireKafka(t), ",")
	topic := fmt.Sprintf("edgeflow.test.tasks.%d", time.Now().UnixNano())
	file := filepath.Join(t.TempDir(), "tasks.yaml")
	if err := os.WriteFile(file, []byte("tasks:\n  - id: t1\n    pipeline: p\n  - id: t2\n    pipeline: p\n    priority: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--brokers", brokers, "--task-topic", topic, "--assignment-topic", topic + ".assignments", "--status-topic", topic + ".status"}
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return string(out)
	}
	if out := cli(append(append([]string{"tasks", "submit"}, base...), file)...); !strings.Contains(out, "submitted 2 task(s)") {
		t.Fatalf("submit: %s", out)
	}
	list := cli(append([]string{"tasks", "list", "--wait", "4s"}, base...)...)
	if !hasRow(list, "t1 pending p 0") || !hasRow(list, "t2 pending p 5") {
		t.Fatalf("list after submit:\n%s", list)
	}
	if out := cli(append(append([]string{"tasks", "delete"}, base...), "t1")...); !strings.Contains(out, "deleted 1 task(s)") {
		t.Fatalf("delete: %s", out)
	}
	list = cli(append([]string{"tasks", "list", "--wait", "4s"}, base...)...)
	if hasRow(list, "t1 pending") || !hasRow(list, "t2 pending") {
		t.Fatalf("list after deleting t1:\n%s", list)
	}
}

// hasRow reports whether a line of table starts with the fields of prefix.
func hasRow(table, prefix string) bool {
	want := strings.Fields(prefix)
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(want) && slices.Equal(f[:len(want)], want) {
			return true
		}
	}
	return false
}
