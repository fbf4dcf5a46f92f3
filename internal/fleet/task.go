package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/edgeflow/edgeflow/internal/placement"
)

// Task topic defaults; docs/topics.md documents the records.
const (
	TaskTopic = "edgeflow.tasks"
	// TaskSchemaVersion is the "schema" field of tasks this build writes.
	TaskSchemaVersion = 1
	// TaskContentType is the content-type header of task records.
	TaskContentType = "application/vnd.edgeflow.task+json; version=1"
	// MetaTask is the metadata entry (Kafka header) holding a task record's id;
	// TaskKey keys the record by it.
	MetaTask = "edgeflow-task"
)

// ErrInvalidTask is wrapped by every error of Task.Validate and DecodeTask.
var ErrInvalidTask = errors.New("invalid task")

// Resources is an amount of each resource a task requests.
type Resources struct {
	MilliCPU     int64 `json:"milli_cpu,omitempty"`
	MemoryBytes  int64 `json:"memory_bytes,omitempty"`
	DiskBytes    int64 `json:"disk_bytes,omitempty"`
	Accelerators int64 `json:"accelerators,omitempty"`
}

// Spread keeps the tasks of one group apart.
type Spread struct {
	MaxPerNode  int `json:"max_per_node,omitempty"`  // 1: at most one task of the group per node
	ZoneMaxSkew int `json:"zone_max_skew,omitempty"` // most the group's counts per zone may differ by
}

// Constraints restrict where a task runs; the zero value allows any node.
type Constraints struct {
	Labels      map[string]string `json:"labels,omitempty"`      // the node must carry all of them
	NearSite    string            `json:"near_site,omitempty"`   // prefer nodes labelled site=NearSite
	Accelerator string            `json:"accelerator,omitempty"` // kind the node must have ("npu", "gpu")
	Spread      Spread            `json:"spread,omitzero"`
}

// Task is a pipeline instance the scheduler places on one node: the pipeline
// (a file in the node's pipelines directory, or carried inline), parameters
// substituted into it, and what placement needs. The pipeline runs under the
// task's id as its name, so stage defaults derived from the pipeline name (the
// kafka source's consumer group edgeflow.<name>) follow the task from node to
// node.
type Task struct {
	Schema int    `json:"schema"`
	ID     string `json:"id"`
	// Pipeline names the file <pipelines directory>/<Pipeline>.yaml on the node.
	Pipeline string `json:"pipeline,omitempty"`
	// PipelineYAML is the pipeline file itself; exactly one of the two is set.
	PipelineYAML string `json:"pipeline_yaml,omitempty"`
	// Params replace ${name} in the pipeline file ($$ is a literal $).
	Params      map[string]string `json:"params,omitempty"`
	Group       string            `json:"group,omitempty"` // replicas of one pipeline share a group
	Priority    int               `json:"priority,omitempty"`
	Resources   Resources         `json:"resources,omitzero"`
	Constraints Constraints       `json:"constraints,omitzero"`
}

var pipelineNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate names the first wrong field, prefixed by where ("tasks.yaml:
// tasks[2]"; "" for none).
func (t *Task) Validate(where string) error {
	prefix := where
	if prefix != "" {
		prefix += ": "
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%stask %s: %s: %s: %w", prefix, t.ID, field, fmt.Sprintf(format, args...), ErrInvalidTask)
	}
	switch {
	case t.Schema < 1 || t.Schema > TaskSchemaVersion:
		return bad("schema", "version %d, this build reads 1 to %d", t.Schema, TaskSchemaVersion)
	case ValidateNodeID(t.ID) != nil:
		return bad("id", "%q: want letters, digits, '.', '_' or '-', starting with a letter or digit", t.ID)
	case (t.Pipeline == "") == (t.PipelineYAML == ""):
		return bad("pipeline", "set exactly one of pipeline (a file name in the node's pipelines directory) and pipeline_yaml")
	case t.Pipeline != "" && !pipelineNamePattern.MatchString(t.Pipeline):
		return bad("pipeline", "%q: want a file name without directory or .yaml: letters, digits, '.', '_' or '-'", t.Pipeline)
	}
	for _, k := range slices.Sorted(maps.Keys(t.Params)) {
		if !paramNamePattern.MatchString(k) {
			return bad("params."+k, "want letters, digits and '_', starting with a letter or '_'")
		}
	}
	if t.PipelineYAML != "" {
		if _, err := ExpandParams(t.PipelineYAML, t.Params); err != nil {
			return bad("pipeline_yaml", "%v", err)
		}
	}
	r, c := t.Resources, t.Constraints
	switch {
	case r.MilliCPU < 0 || r.MemoryBytes < 0 || r.DiskBytes < 0 || r.Accelerators < 0:
		return bad("resources", "negative amount %+v", r)
	case c.Spread.MaxPerNode < 0 || c.Spread.ZoneMaxSkew < 0:
		return bad("constraints.spread", "limits must not be negative")
	case (c.Spread.MaxPerNode > 0 || c.Spread.ZoneMaxSkew > 0) && t.Group == "":
		return bad("group", "spread constraints need a group")
	case r.Accelerators > 0 && c.Accelerator == "":
		return bad("constraints.accelerator", "resources.accelerators is %d but no kind is named", r.Accelerators)
	}
	return nil
}

// Placement maps t onto the placement core's task.
func (t *Task) Placement() placement.Task {
	return placement.Task{
		ID: t.ID, Group: t.Group, Priority: t.Priority,
		Request: placement.Resources{MilliCPU: t.Resources.MilliCPU, MemoryBytes: t.Resources.MemoryBytes,
			DiskBytes: t.Resources.DiskBytes, Accelerators: t.Resources.Accelerators},
		Constraints: placement.Constraints{
			RequiredLabels: maps.Clone(t.Constraints.Labels), NearSite: t.Constraints.NearSite,
			Accelerator: t.Constraints.Accelerator,
			Spread:      placement.Spread{MaxPerNode: t.Constraints.Spread.MaxPerNode, ZoneMaxSkew: t.Constraints.Spread.ZoneMaxSkew},
		},
	}
}

// RunSpec is what the node runs for t: the pipeline and its parameters. Two
// tasks with the same RunSpec run the same thing; a change of resources or
// priority alone does not restart a running pipeline.
func (t *Task) RunSpec() string {
	data, _ := json.Marshal(struct {
		Pipeline, PipelineYAML string
		Params                 map[string]string
	}{t.Pipeline, t.PipelineYAML, t.Params})
	return string(data)
}

// DecodeTask parses and checks one task record. Unknown fields are ignored; a
// newer schema is an error.
func DecodeTask(data []byte) (Task, error) {
	var t Task
	if err := json.Unmarshal(data, &t); err != nil {
		return Task{}, fmt.Errorf("task: %w: %w", err, ErrInvalidTask)
	}
	if err := t.Validate(""); err != nil {
		return Task{}, err
	}
	return t, nil
}

var paramNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ExpandParams replaces ${name} in text by params[name]; $$ stands for a
// literal $. A ${name} without a value is an error naming it (and its line).
func ExpandParams(text string, params map[string]string) (string, error) {
	var b strings.Builder
	line := 1
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' {
			line++
		}
		if c != '$' || i+1 >= len(text) {
			b.WriteByte(c)
			continue
		}
		switch text[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(text[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("line %d: ${ without a closing }", line)
			}
			name := text[i+2 : i+2+end]
			v, ok := params[name]
			if !ok {
				return "", fmt.Errorf("line %d: ${%s}: no such parameter", line, name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
