package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Assignment topic defaults; docs/topics.md documents the records.
const (
	AssignmentTopic = "edgeflow.assignments"
	// AssignmentSchemaVersion is the "schema" field of assignments this build writes.
	AssignmentSchemaVersion = 1
	// AssignmentContentType is the content-type header of assignment records.
	AssignmentContentType = "application/vnd.edgeflow.assignment+json; version=1"
	// MetaNode is the metadata entry (Kafka header) holding the node id of a
	// heartbeat or assignment record; NodeKey keys the record by it.
	MetaNode = "edgeflow-node"
)

// ErrInvalidAssignment is wrapped by every error of DecodeAssignment.
var ErrInvalidAssignment = errors.New("invalid assignment")

// Assignment is the full set of tasks one node should run, keyed by its id on
// a compacted topic: the latest record per node is its desired state. An
// assignment with no tasks tells the node to stop everything it was assigned.
type Assignment struct {
	Schema int       `json:"schema"`
	NodeID string    `json:"node_id"`
	Time   time.Time `json:"time"`
	// Generation counts the scheduler's rounds that changed anything; it only
	// grows while one scheduler runs.
	Generation uint64 `json:"generation"`
	Tasks      []Task `json:"tasks"`
}

// Validate names the first wrong field.
func (a *Assignment) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("assignment %s: %s: %s: %w", a.NodeID, field, fmt.Sprintf(format, args...), ErrInvalidAssignment)
	}
	switch {
	case a.Schema < 1 || a.Schema > AssignmentSchemaVersion:
		return bad("schema", "version %d, this build reads 1 to %d", a.Schema, AssignmentSchemaVersion)
	case ValidateNodeID(a.NodeID) != nil:
		return bad("node_id", "%v", ValidateNodeID(a.NodeID))
	}
	seen := map[string]bool{}
	for i := range a.Tasks {
		if err := a.Tasks[i].Validate(fmt.Sprintf("tasks[%d]", i)); err != nil {
			return fmt.Errorf("assignment %s: %w: %w", a.NodeID, err, ErrInvalidAssignment)
		}
		if seen[a.Tasks[i].ID] {
			return bad(fmt.Sprintf("tasks[%d]", i), "task %s listed twice", a.Tasks[i].ID)
		}
		seen[a.Tasks[i].ID] = true
	}
	return nil
}

// DecodeAssignment parses and checks one assignment record.
func DecodeAssignment(data []byte) (Assignment, error) {
	var a Assignment
	if err := json.Unmarshal(data, &a); err != nil {
		return Assignment{}, fmt.Errorf("assignment: %w: %w", err, ErrInvalidAssignment)
	}
	if err := a.Validate(); err != nil {
		return Assignment{}, err
	}
	return a, nil
}

// NodeKey is a kafkabus KeyFunc for heartbeats and assignments: the node id
// from the edgeflow-node metadata, so a compacted topic keeps each node's latest.
func NodeKey(_ string, msg *message.Message) []byte {
	if id := msg.Metadata.Get(MetaNode); id != "" {
		return []byte(id)
	}
	return nil
}

// TaskKey is a kafkabus KeyFunc for task records: the task id from the
// edgeflow-task metadata, so a compacted topic keeps each task's latest.
func TaskKey(_ string, msg *message.Message) []byte {
	if id := msg.Metadata.Get(MetaTask); id != "" {
		return []byte(id)
	}
	return nil
}

// CompactedTopicConfig is the topic-level configuration of the heartbeat, task
// and assignment topics: compacted, so each keeps the latest record per key.
var CompactedTopicConfig = map[string]string{"cleanup.policy": "compact"}
