package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Scheduler status topic defaults; docs/topics.md documents the record.
const (
	StatusTopic = "edgeflow.schedule"
	// StatusKey is the key of the scheduler's status record: the compacted
	// topic keeps the latest.
	StatusKey = "status"
	// StatusSchemaVersion is the "schema" field of status records this build writes.
	StatusSchemaVersion = 1
	// StatusContentType is the content-type header of status records.
	StatusContentType = "application/vnd.edgeflow.schedule-status+json; version=1"
)

// ErrInvalidStatus is wrapped by every error of DecodeStatus.
var ErrInvalidStatus = errors.New("invalid scheduler status")

// PendingTask is a task no node can take now, and why.
type PendingTask struct {
	ID     string `json:"id"`
	Reason string `json:"reason"` // e.g. "0/3 nodes can take it: 2 insufficient memory, 1 down"
}

// SchedulerStatus is what the scheduler reports after a round that changed it:
// the tasks that wait and why.
type SchedulerStatus struct {
	Schema     int           `json:"schema"`
	Time       time.Time     `json:"time"`
	Generation uint64        `json:"generation"`
	Pending    []PendingTask `json:"pending"`
}

// DecodeStatus parses and checks a status record.
func DecodeStatus(data []byte) (SchedulerStatus, error) {
	var s SchedulerStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return SchedulerStatus{}, fmt.Errorf("scheduler status: %w: %w", err, ErrInvalidStatus)
	}
	if s.Schema < 1 || s.Schema > StatusSchemaVersion {
		return SchedulerStatus{}, fmt.Errorf("scheduler status: schema: version %d, this build reads 1 to %d: %w", s.Schema, StatusSchemaVersion, ErrInvalidStatus)
	}
	for i, p := range s.Pending {
		if p.ID == "" {
			return SchedulerStatus{}, fmt.Errorf("scheduler status: pending[%d].id: empty: %w", i, ErrInvalidStatus)
		}
	}
	return s, nil
}
