package edge

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
)

// FollowAssignments subscribes to the assignment topic and hands the tasks of
// every assignment for this node to SetDesired, until ctx ends (then it
// returns nil) or the subscription fails. Records for other nodes are skipped;
// an empty record (a tombstone) means no tasks. A record that does not decode
// is logged and skipped, keeping the last good desired set. Read from the
// oldest record of the compacted topic, the last record for the node wins, so
// a restarted node picks up its latest desired state.
func (s *Supervisor) FollowAssignments(ctx context.Context, sub message.Subscriber, topic string) error {
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		return fmt.Errorf("assignments: subscribe to %s: %w", topic, err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("assignments: subscription to " + topic + " closed")
			}
			s.HandleAssignment(msg)
			msg.Ack()
		}
	}
}

// HandleAssignment applies one assignment record if it is for this node.
func (s *Supervisor) HandleAssignment(msg *message.Message) {
	node := msg.Metadata.Get(fleet.MetaNode)
	if rec, ok := kafkabus.RecordFromContext(msg.Context()); ok && len(rec.Key) > 0 {
		node = string(rec.Key)
	}
	if node != s.cfg.Node.ID {
		return
	}
	if len(msg.Payload) == 0 {
		s.log.Info("assignment cleared")
		s.SetDesired(nil)
		return
	}
	a, err := fleet.DecodeAssignment(msg.Payload)
	if err == nil && a.NodeID != s.cfg.Node.ID {
		err = fmt.Errorf("assignment keyed %s names node %s", s.cfg.Node.ID, a.NodeID)
	}
	if err != nil {
		s.log.Warn("assignment skipped", "message", msg.UUID, "error", err)
		return
	}
	ids := make([]string, len(a.Tasks))
	for i, t := range a.Tasks {
		ids[i] = t.ID
	}
	s.log.Info("assignment", "generation", a.Generation, "tasks", ids)
	s.SetDesired(a.Tasks)
}
