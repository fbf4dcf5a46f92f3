package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// taskFile is the YAML file of tasks `edgeflow tasks submit` reads.
type taskFile struct {
	Tasks []taskEntry `yaml:"tasks"`
}

type taskEntry struct {
	ID           string            `yaml:"id"`
	Pipeline     string            `yaml:"pipeline"`
	PipelineYAML string            `yaml:"pipeline_yaml"`
	Params       map[string]string `yaml:"params"`
	Group        string            `yaml:"group"`
	Priority     int               `yaml:"priority"`
	Resources    struct {
		CPU          string `yaml:"cpu"`    // cores: "0.5", "250m"
		Memory       string `yaml:"memory"` // bytes: "64Mi", "1Gi", "500M", "1024"
		Disk         string `yaml:"disk"`
		Accelerators int64  `yaml:"accelerators"`
	} `yaml:"resources"`
	Constraints struct {
		Labels      map[string]string `yaml:"labels"`
		NearSite    string            `yaml:"near_site"`
		Accelerator string            `yaml:"accelerator"`
		Spread      struct {
			MaxPerNode  int `yaml:"max_per_node"`
			ZoneMaxSkew int `yaml:"zone_max_skew"`
		} `yaml:"spread"`
	} `yaml:"constraints"`
}

// ParseTaskFile reads a YAML file of tasks (docs/scheduling.md shows the
// format). Every problem is reported as NAME:LINE: tasks[i] (id): field: message.
func ParseTaskFile(name string, data []byte) ([]Task, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f taskFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no tasks: %w", name, ErrInvalidTask)
		}
		return nil, fmt.Errorf("%s: %w: %w", name, err, ErrInvalidTask)
	}
	var nodes struct {
		Tasks []yaml.Node `yaml:"tasks"`
	}
	_ = yaml.Unmarshal(data, &nodes) // decoded strictly above; only the lines are wanted
	var tasks []Task
	var errs []error
	seen := map[string]int{}
	for i, e := range f.Tasks {
		line := 0
		if i < len(nodes.Tasks) {
			line = nodes.Tasks[i].Line
		}
		where := fmt.Sprintf("%s:%d: tasks[%d]", name, line, i)
		t, err := e.task()
		if err == nil {
			err = t.Validate(where)
		} else {
			err = fmt.Errorf("%s: task %s: %w: %w", where, e.ID, err, ErrInvalidTask)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if j, dup := seen[t.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: task %s: id: same as tasks[%d]: %w", where, t.ID, j, ErrInvalidTask))
			continue
		}
		seen[t.ID] = i
		tasks = append(tasks, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("%s: no tasks: %w", name, ErrInvalidTask)
	}
	return tasks, nil
}

func (e *taskEntry) task() (Task, error) {
	t := Task{Schema: TaskSchemaVersion, ID: e.ID, Pipeline: e.Pipeline, PipelineYAML: e.PipelineYAML,
		Params: e.Params, Group: e.Group, Priority: e.Priority}
	var err error
	if t.Resources.MilliCPU, err = ParseMilliCPU(e.Resources.CPU); err != nil {
		return Task{}, fmt.Errorf("resources.cpu: %w", err)
	}
	if t.Resources.MemoryBytes, err = ParseBytes(e.Resources.Memory); err != nil {
		return Task{}, fmt.Errorf("resources.memory: %w", err)
	}
	if t.Resources.DiskBytes, err = ParseBytes(e.Resources.Disk); err != nil {
		return Task{}, fmt.Errorf("resources.disk: %w", err)
	}
	t.Resources.Accelerators = e.Resources.Accelerators
	c := e.Constraints
	t.Constraints = Constraints{Labels: c.Labels, NearSite: c.NearSite, Accelerator: c.Accelerator,
		Spread: Spread{MaxPerNode: c.Spread.MaxPerNode, ZoneMaxSkew: c.Spread.ZoneMaxSkew}}
	return t, nil
}

// ParseMilliCPU parses CPU cores as "2", "0.5" or "250m" into millicores; "" is 0.
func ParseMilliCPU(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if m, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want cores such as 2, 0.5 or 250m", s)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, fmt.Errorf("%q: want cores such as 2, 0.5 or 250m", s)
	}
	return int64(f*1000 + 0.5), nil
}

var byteUnits = []struct {
	suffix string
	factor int64
}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}

// ParseBytes parses "1024", "64Mi", "1Gi" or "500M" into bytes; "" is 0.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	factor := int64(1)
	num := s
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("%q: want bytes such as 1024, 64Mi, 1Gi or 500M", s)
	}
	return n * factor, nil
}
