package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Heartbeat defaults; docs/topics.md documents the topic and the schema.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	HeartbeatTopic           = "edgeflow.heartbeats"
	// HeartbeatSchemaVersion is the "schema" field of heartbeats this build
	// writes; readers reject greater versions.
	HeartbeatSchemaVersion = 1
	// HeartbeatContentType is the content-type header of heartbeat records.
	HeartbeatContentType = "application/vnd.edgeflow.heartbeat+json; version=1"
)

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateNodeID checks a node id: letters, digits, '.', '_' and '-', starting
// with a letter or digit, at most 253 characters. Task ids follow the same rule.
func ValidateNodeID(id string) error {
	if len(id) > 253 || !nodeIDPattern.MatchString(id) {
		return fmt.Errorf("node id %q: want letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// Accelerator is one kind of accelerator device on a node.
type Accelerator struct {
	Kind  string `yaml:"kind" json:"kind"`   // "npu", "gpu", "tpu"
	Count int64  `yaml:"count" json:"count"` // devices of that kind
	Free  *int64 `yaml:"free,omitempty" json:"free,omitempty"`
}

// HeartbeatResources is an amount of each resource in a heartbeat.
type HeartbeatResources struct {
	MilliCPU     int64 `json:"milli_cpu"`
	MemoryBytes  int64 `json:"memory_bytes"`
	DiskBytes    int64 `json:"disk_bytes"`
	Accelerators int64 `json:"accelerators"`
}

// Heartbeat is the JSON record an edge node publishes every interval, keyed by
// its id. docs/topics.md documents each field.
type Heartbeat struct {
	Schema   int               `json:"schema"`
	NodeID   string            `json:"node_id"`
	Labels   map[string]string `json:"labels,omitempty"`
	Version  string            `json:"version"`
	Time     time.Time         `json:"time"`
	Sequence uint64            `json:"seq"`
	// IntervalMillis is the node's heartbeat interval, so a reader can pick a
	// timeout without being told.
	IntervalMillis int64              `json:"interval_ms"`
	Capacity       HeartbeatResources `json:"capacity"`
	Free           HeartbeatResources `json:"free"`
	Accelerators   []Accelerator      `json:"accelerators,omitempty"`
	Pipelines      []string           `json:"pipelines"`
	// Stopping is true in the last heartbeat of a node shutting down cleanly.
	Stopping bool `json:"stopping,omitempty"`
}

// ErrInvalidHeartbeat is wrapped by every error of DecodeHeartbeat.
var ErrInvalidHeartbeat = errors.New("invalid heartbeat")

// DecodeHeartbeat parses and checks one heartbeat record. Unknown fields are
// ignored (newer minor additions); a newer schema is an error.
func DecodeHeartbeat(data []byte) (Heartbeat, error) {
	var hb Heartbeat
	if err := json.Unmarshal(data, &hb); err != nil {
		return Heartbeat{}, fmt.Errorf("heartbeat: %w: %w", err, ErrInvalidHeartbeat)
	}
	if err := hb.Validate(); err != nil {
		return Heartbeat{}, err
	}
	return hb, nil
}

// Validate names the first wrong field.
func (hb *Heartbeat) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("heartbeat %s: %s: %s: %w", hb.NodeID, field, fmt.Sprintf(format, args...), ErrInvalidHeartbeat)
	}
	switch {
	case hb.Schema < 1 || hb.Schema > HeartbeatSchemaVersion:
		return bad("schema", "version %d, this build reads 1 to %d", hb.Schema, HeartbeatSchemaVersion)
	case ValidateNodeID(hb.NodeID) != nil:
		return bad("node_id", "%v", ValidateNodeID(hb.NodeID))
	case hb.Time.IsZero():
		return bad("time", "missing")
	case hb.IntervalMillis < 0:
		return bad("interval_ms", "negative")
	}
	for _, r := range []struct {
		name string
		v    HeartbeatResources
	}{{"capacity", hb.Capacity}, {"free", hb.Free}} {
		if r.v.MilliCPU < 0 || r.v.MemoryBytes < 0 || r.v.DiskBytes < 0 || r.v.Accelerators < 0 {
			return bad(r.name, "negative amount %+v", r.v)
		}
	}
	for i, a := range hb.Accelerators {
		if a.Kind == "" || a.Count < 0 || (a.Free != nil && (*a.Free < 0 || *a.Free > a.Count)) {
			return bad(fmt.Sprintf("accelerators[%d]", i), "want a kind, a count >= 0 and 0 <= free <= count")
		}
	}
	for i, p := range hb.Pipelines {
		if p == "" {
			return bad(fmt.Sprintf("pipelines[%d]", i), "empty name")
		}
	}
	return nil
}
