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

// ReadFunc hands each record of a topic, as the topic is when it is called,
// to each and returns once it read them all (kafkabus.ReadAll bound to the
// brokers and the topic).
type ReadFunc func(ctx context.Context, each func(*message.Message)) error

// CatchUpAssignments reads the assignment topic as it is now with read and
// applies only the last record for this node: a node that starts again goes
// straight to its latest assignment, instead of starting, and stopping a moment
// later, the tasks of each older assignment the topic still holds (compaction
// keeps them for a while) — tasks that have moved to other nodes meanwhile,
// whose consumer groups it would join and upset. FollowAssignments then skips
// the records read here. If read fails, nothing is applied and the error is
// returned: FollowAssignments then applies every record as it comes.
func (s *Supervisor) CatchUpAssignments(ctx context.Context, read ReadFunc) error {
	var last *message.Message
	readUpTo := map[kafkabus.Partition]int64{}
	err := read(ctx, func(m *message.Message) {
		if rec, ok := kafkabus.RecordFromContext(m.Context()); ok {
			p := kafkabus.Partition{Topic: rec.Topic, Partition: rec.Partition}
			if at, seen := readUpTo[p]; !seen || rec.Offset > at {
				readUpTo[p] = rec.Offset
			}
		}
		if s.forThisNode(m) {
			last = m
		}
	})
	if err != nil {
		return fmt.Errorf("assignments: catching up: %w", err)
	}
	if last != nil {
		s.HandleAssignment(last)
	}
	s.mu.Lock()
	s.readUpTo = readUpTo
	s.mu.Unlock()
	return nil
}

// forThisNode reports whether an assignment record is keyed to this node.
func (s *Supervisor) forThisNode(msg *message.Message) bool {
	node := msg.Metadata.Get(fleet.MetaNode)
	if rec, ok := kafkabus.RecordFromContext(msg.Context()); ok && len(rec.Key) > 0 {
		node = string(rec.Key)
	}
	return node == s.cfg.Node.ID
}

// caughtUpPast reports whether CatchUpAssignments already read msg's record.
func (s *Supervisor) caughtUpPast(msg *message.Message) bool {
	rec, ok := kafkabus.RecordFromContext(msg.Context())
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, read := s.readUpTo[kafkabus.Partition{Topic: rec.Topic, Partition: rec.Partition}]
	return read && rec.Offset <= at
}

// HandleAssignment applies one assignment record if it is for this node and
// CatchUpAssignments did not read it already.
func (s *Supervisor) HandleAssignment(msg *message.Message) {
	if !s.forThisNode(msg) || s.caughtUpPast(msg) {
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
