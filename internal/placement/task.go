package placement

import (
	"errors"
	"fmt"
	"time"
)

// Label keys with a meaning to the planner. Nodes carry them among their labels.
const (
	LabelZone = "zone" // failure domain that Spread.ZoneMaxSkew spreads across
	LabelSite = "site" // location (a plant, a building) that Constraints.NearSite prefers
)

// Task is one pipeline instance to run on one node.
type Task struct {
	ID          string // unique among all tasks
	Group       string // tasks of one pipeline (its replicas) share a group; Spread counts within it
	Request     Resources
	Priority    int // higher runs first and, with Options.Preempt, may evict lower
	Constraints Constraints
	// Duration is how long the task is expected to run (0: until stopped).
	// The planner ignores it; the simulation uses it.
	Duration time.Duration
}

// Constraints restrict where a task may run. The zero value allows any node.
type Constraints struct {
	// RequiredLabels must all be present on the node with these values.
	RequiredLabels map[string]string
	// NearSite prefers nodes whose site label has this value (the site of the
	// sensors the task reads): if any such node is feasible, the task goes to
	// one of them. To require the site, put it in RequiredLabels instead.
	NearSite string
	// Accelerator is the kind of accelerator the task needs ("npu", "gpu");
	// the node's AcceleratorKind must match and Request.Accelerators devices
	// (at least one) must be free.
	Accelerator string
	Spread      Spread
}

// Spread keeps the tasks of one group apart. It needs Task.Group.
type Spread struct {
	// MaxPerNode is the most tasks of the group on one node (0: no limit;
	// 1 is strict anti-affinity).
	MaxPerNode int
	// ZoneMaxSkew bounds how unevenly the group spreads over zones: placing
	// in zone z is allowed only if count(z)+1 - min over zones of count is at
	// most ZoneMaxSkew (0: no limit), as in Kubernetes' topology spread.
	// Zones are the zone labels of the up nodes in the snapshot.
	ZoneMaxSkew int
}

// ErrInvalidTask marks a task that cannot be planned as written.
var ErrInvalidTask = errors.New("invalid task")

// Validate returns an error naming the field of t that is wrong, prefixed by
// where (e.g. "tasks[3]").
func (t *Task) Validate(where string) error {
	if t.ID == "" {
		return fmt.Errorf("%s.id: empty: %w", where, ErrInvalidTask)
	}
	c := t.Constraints
	spreadNeedsGroup := (c.Spread.MaxPerNode > 0 || c.Spread.ZoneMaxSkew > 0) && t.Group == ""
	accNeedsKind := t.Request.Accelerators > 0 && c.Accelerator == ""
	if !t.Request.negative() && c.Spread.MaxPerNode >= 0 && c.Spread.ZoneMaxSkew >= 0 && !spreadNeedsGroup && !accNeedsKind {
		return nil // the common case, without formatting where
	}
	where = fmt.Sprintf("%s (%s)", where, t.ID)
	if err := t.Request.validate(where + ".request"); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalidTask)
	}
	if c.Spread.MaxPerNode < 0 || c.Spread.ZoneMaxSkew < 0 {
		return fmt.Errorf("%s.constraints.spread: limits must not be negative: %w", where, ErrInvalidTask)
	}
	if spreadNeedsGroup {
		return fmt.Errorf("%s.group: spread constraints need a group: %w", where, ErrInvalidTask)
	}
	return fmt.Errorf("%s.constraints.accelerator: request.accelerators is %d but no kind is named: %w", where, t.Request.Accelerators, ErrInvalidTask)
}

// request is the resources t takes on a node: at least one accelerator when
// it names a kind.
func (t *Task) request() Resources {
	r := t.Request
	if t.Constraints.Accelerator != "" && r.Accelerators == 0 {
		r.Accelerators = 1
	}
	return r
}
