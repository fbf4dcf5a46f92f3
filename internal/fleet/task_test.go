package fleet

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const tasksYAML = `tasks:
  - id: boiler-a
    pipeline: boiler
    params: {sensor: boiler-a}
    group: boiler
    priority: 10
    resources: {cpu: 250m, memory: 64Mi, disk: 1Gi}
    constraints:
      labels: {arch: arm64}
      near_site: plant-1
      spread: {max_per_node: 1, zone_max_skew: 1}
  - id: cam
    pipeline_yaml: |
      name: cam
    resources: {cpu: "0.5", accelerators: 1}
    constraints: {accelerator: npu}
`

func TestParseTaskFile(t *testing.T) {
	tasks, err := ParseTaskFile("tasks.yaml", []byte(tasksYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := []Task{
		{Schema: 1, ID: "boiler-a", Pipeline: "boiler", Params: map[string]string{"sensor": "boiler-a"}, Group: "boiler", Priority: 10,
			Resources:   Resources{MilliCPU: 250, MemoryBytes: 64 << 20, DiskBytes: 1 << 30},
			Constraints: Constraints{Labels: map[string]string{"arch": "arm64"}, NearSite: "plant-1", Spread: Spread{MaxPerNode: 1, ZoneMaxSkew: 1}}},
		{Schema: 1, ID: "cam", PipelineYAML: "name: cam\n", Resources: Resources{MilliCPU: 500, Accelerators: 1},
			Constraints: Constraints{Accelerator: "npu"}},
	}
	if !reflect.DeepEqual(tasks, want) {
		t.Fatalf("ParseTaskFile:\n got %+v\nwant %+v", tasks, want)
	}
	pt := tasks[0].Placement()
	if pt.Request.MilliCPU != 250 || pt.Constraints.RequiredLabels["arch"] != "arm64" || pt.Constraints.Spread.MaxPerNode != 1 || pt.Group != "boiler" {
		t.Errorf("Placement() = %+v", pt)
	}
	data, err := json.Marshal(tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTask(data)
	if err != nil || !reflect.DeepEqual(back, tasks[0]) {
		t.Fatalf("DecodeTask(%s) = %+v, %v", data, back, err)
	}
}

func TestParseTaskFileErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"empty", ``, "no tasks"},
		{"unknown field", "tasks:\n  - id: a\n    pipelin: x\n", "line 3"},
		{"no pipeline", "tasks:\n  - id: a\n", "tasks.yaml:2: tasks[0]: task a: pipeline: set exactly one"},
		{"both pipelines", "tasks:\n  - id: a\n    pipeline: p\n    pipeline_yaml: 'name: p'\n", "set exactly one"},
		{"path as pipeline", "tasks:\n  - id: a\n    pipeline: ../etc/p\n", "pipeline: \"../etc/p\""},
		{"bad id", "tasks:\n  - id: -a\n    pipeline: p\n", "id:"},
		{"duplicate id", "tasks:\n  - id: a\n    pipeline: p\n  - id: a\n    pipeline: p\n", "tasks.yaml:4: tasks[1]: task a: id: same as tasks[0]"},
		{"bad cpu", "tasks:\n  - id: a\n    pipeline: p\n    resources: {cpu: lots}\n", "resources.cpu"},
		{"bad memory", "tasks:\n  - id: a\n    pipeline: p\n    resources: {memory: 1Xi}\n", "resources.memory"},
		{"spread without group", "tasks:\n  - id: a\n    pipeline: p\n    constraints: {spread: {max_per_node: 1}}\n", "group: spread constraints need a group"},
		{"accelerators without kind", "tasks:\n  - id: a\n    pipeline: p\n    resources: {accelerators: 1}\n", "constraints.accelerator"},
		{"missing param", "tasks:\n  - id: a\n    pipeline_yaml: \"name: ${x}\"\n", "${x}: no such parameter"},
		{"bad param name", "tasks:\n  - id: a\n    pipeline: p\n    params: {a-b: 1}\n", "params.a-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTaskFile("tasks.yaml", []byte(tt.yaml))
			if !errors.Is(err, ErrInvalidTask) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseTaskFile = %v, want an ErrInvalidTask containing %q", err, tt.want)
			}
		})
	}
}

func TestExpandParams(t *testing.T) {
	tests := []struct{ name, in, want, wantErr string }{
		{"plain", "a: b", "a: b", ""},
		{"param", "topic: ${t}.in", "topic: readings.in", ""},
		{"dollar", "cost: $$5 $x", "cost: $5 $x", ""},
		{"unknown", "a: 1\nb: ${nope}", "", "line 2: ${nope}: no such parameter"},
		{"unclosed", "a: ${t", "", "without a closing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandParams(tt.in, map[string]string{"t": "readings"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ExpandParams = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ExpandParams = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestQuantities(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "2": 2000, "0.5": 500, "250m": 250} {
		if got, err := ParseMilliCPU(in); err != nil || got != want {
			t.Errorf("ParseMilliCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]int64{"": 0, "1024": 1024, "64Mi": 64 << 20, "1Gi": 1 << 30, "500M": 500e6, "2k": 2000} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "x", "1.5Mi", "-5m"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q): no error", in)
		}
		if _, err := ParseMilliCPU(in); err == nil {
			t.Errorf("ParseMilliCPU(%q): no error", in)
		}
	}
}

func TestDecodeAssignment(t *testing.T) {
	valid := `"schema":1,"node_id":"gw-1","time":"2026-01-01T00:00:00Z","generation":3`
	a, err := DecodeAssignment([]byte(`{` + valid + `,"tasks":[{"schema":1,"id":"t1","pipeline":"p"}]}`))
	if err != nil || len(a.Tasks) != 1 || a.Tasks[0].ID != "t1" || a.Generation != 3 {
		t.Fatalf("DecodeAssignment = %+v, %v", a, err)
	}
	tests := []struct{ name, json, want string }{
		{"not json", `{`, "assignment"},
		{"newer schema", `{"schema":2,"node_id":"gw-1"}`, "schema"},
		{"bad node", `{"schema":1,"node_id":""}`, "node_id"},
		{"bad task", `{` + valid + `,"tasks":[{"schema":1,"id":"t1"}]}`, "tasks[0]"},
		{"task twice", `{` + valid + `,"tasks":[{"schema":1,"id":"t1","pipeline":"p"},{"schema":1,"id":"t1","pipeline":"p"}]}`, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeAssignment([]byte(tt.json))
			if !errors.Is(err, ErrInvalidAssignment) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeAssignment(%s) = %v, want an ErrInvalidAssignment naming %s", tt.json, err, tt.want)
			}
		})
	}
}

func FuzzDecodeTask(f *testing.F) {
	f.Add([]byte(`{"schema":1,"id":"t1","pipeline":"p","resources":{"milli_cpu":100}}`))
	f.Add([]byte(`{"schema":1,"id":"t1","pipeline_yaml":"name: ${a}","params":{"a":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := DecodeTask(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeTask(again); err != nil {
			t.Fatalf("re-encoded task does not decode: %v", err)
		}
	})
}

func TestDecodeStatus(t *testing.T) {
	st, err := DecodeStatus([]byte(`{"schema":1,"time":"2026-01-01T00:00:00Z","generation":2,"pending":[{"id":"t1","reason":"0/3 nodes can take it: 3 down"}]}`))
	if err != nil || len(st.Pending) != 1 || st.Pending[0].Reason != "0/3 nodes can take it: 3 down" {
		t.Fatalf("DecodeStatus = %+v, %v", st, err)
	}
	for _, bad := range []string{`{`, `{"schema":2}`, `{"schema":1,"pending":[{"reason":"x"}]}`} {
		if _, err := DecodeStatus([]byte(bad)); !errors.Is(err, ErrInvalidStatus) {
			t.Errorf("DecodeStatus(%s) = %v, want ErrInvalidStatus", bad, err)
		}
	}
}

func FuzzParseTaskFile(f *testing.F) {
	f.Add([]byte(tasksYAML))
	f.Add([]byte("tasks:\n  - id: a\n    pipeline: p\n    resources: {cpu: 1m, memory: 1Ki}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tasks, err := ParseTaskFile("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidTask) {
				t.Fatalf("error without ErrInvalidTask: %v", err)
			}
			return
		}
		for _, task := range tasks {
			out, err := json.Marshal(task)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeTask(out); err != nil {
				t.Fatalf("parsed task does not decode: %v", err)
			}
		}
	})
}
