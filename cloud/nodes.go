package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/placement"
)

// DefaultNodeTimeout is how long a node may stay silent before NodeTracker
// marks it down: three default heartbeat intervals.
const DefaultNodeTimeout = 3 * fleet.DefaultHeartbeatInterval

// NodeEvent says a node came up or went down.
type NodeEvent struct {
	NodeID string
	Up     bool
	At     time.Time // when the tracker noticed
	// Reason: "heartbeat", "no heartbeat for TIMEOUT" or "stopped" (the node
	// said it shuts down).
	Reason string
}

// NodeTrackerConfig configures a NodeTracker; every field is optional.
type NodeTrackerConfig struct {
	// Timeout without heartbeats after which a node is down (default 15s, three
	// default heartbeat intervals).
	Timeout time.Duration
	// OnChange is called, without the tracker's lock held, for every node that
	// comes up or goes down, in order.
	OnChange func(NodeEvent)
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// NodeView is what the tracker knows about one node.
type NodeView struct {
	Heartbeat fleet.Heartbeat // the latest
	LastSeen  time.Time       // when it arrived (or was sent, for old records)
	Up        bool
}

type trackedNode struct {
	hb       fleet.Heartbeat
	lastSeen time.Time
	up       bool
}

// NodeTracker keeps the liveness and resources of edge nodes from their
// heartbeats, in a placement.State the planner can snapshot.
type NodeTracker struct {
	cfg NodeTrackerConfig

	mu      sync.Mutex
	state   *placement.State
	nodes   map[string]*trackedNode
	skipped int64
	changes uint64
	// notify serialises OnChange calls so they arrive in order.
	notify sync.Mutex
}

// NewNodeTracker returns an empty tracker.
func NewNodeTracker(cfg NodeTrackerConfig) (*NodeTracker, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("node tracker: timeout %v is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultNodeTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &NodeTracker{cfg: cfg, state: placement.NewState(), nodes: map[string]*trackedNode{}}, nil
}

// Timeout is how long a node may be silent before it is down.
func (t *NodeTracker) Timeout() time.Duration { return t.cfg.Timeout }

// NodeStatus maps a heartbeat to the placement core's view of the node seen at
// lastSeen: what is not free (used by anything, edgeflow or not) is Reserved,
// so Capacity - Reserved is what the node reported free; each running pipeline
// is a task without a request.
func NodeStatus(hb fleet.Heartbeat, lastSeen time.Time) placement.NodeStatus {
	capacity := placement.Resources{MilliCPU: hb.Capacity.MilliCPU, MemoryBytes: hb.Capacity.MemoryBytes,
		DiskBytes: hb.Capacity.DiskBytes, Accelerators: hb.Capacity.Accelerators}
	free := placement.Resources{MilliCPU: min(hb.Free.MilliCPU, capacity.MilliCPU),
		MemoryBytes: min(hb.Free.MemoryBytes, capacity.MemoryBytes), DiskBytes: min(hb.Free.DiskBytes, capacity.DiskBytes),
		Accelerators: min(hb.Free.Accelerators, capacity.Accelerators)}
	st := placement.NodeStatus{ID: hb.NodeID, Labels: maps.Clone(hb.Labels), Capacity: capacity,
		Reserved: capacity.Sub(free), Version: hb.Version, LastHeartbeat: lastSeen}
	if len(hb.Accelerators) > 0 {
		st.AcceleratorKind = hb.Accelerators[0].Kind
	}
	for _, p := range hb.Pipelines {
		st.Tasks = append(st.Tasks, placement.Task{ID: hb.NodeID + "/" + p, Group: p})
	}
	return st
}

// Observe records a heartbeat that arrived now. A heartbeat older than the
// node's latest is ignored (records replayed out of order). A heartbeat sent
// more than the timeout ago (read back from the topic's history) counts as
// seen when it was sent, so replaying history does not bring dead nodes up.
func (t *NodeTracker) Observe(hb fleet.Heartbeat) error {
	if err := hb.Validate(); err != nil {
		return err
	}
	now := t.cfg.Now()
	seen := now
	if hb.Time.Before(now.Add(-t.cfg.Timeout)) {
		seen = hb.Time
	}
	up := !hb.Stopping && now.Sub(seen) <= t.cfg.Timeout
	t.mu.Lock()
	n := t.nodes[hb.NodeID]
	if n != nil && hb.Time.Before(n.hb.Time) {
		t.skipped++
		t.mu.Unlock()
		return nil
	}
	st := NodeStatus(hb, seen)
	if !up {
		// The placement core decides liveness from the last heartbeat time.
		st.LastHeartbeat = now.Add(-t.cfg.Timeout - time.Nanosecond)
	}
	if err := t.state.UpsertNode(st); err != nil {
		t.mu.Unlock()
		return fmt.Errorf("heartbeat %s seq %d: %w", hb.NodeID, hb.Sequence, err)
	}
	var ev *NodeEvent
	switch {
	case n == nil && up, n != nil && !n.up && up:
		ev = &NodeEvent{NodeID: hb.NodeID, Up: true, At: now, Reason: "heartbeat"}
	case n != nil && n.up && !up:
		ev = &NodeEvent{NodeID: hb.NodeID, Up: false, At: now, Reason: "stopped"}
	}
	if n == nil {
		n = &trackedNode{}
		t.nodes[hb.NodeID] = n
	}
	if n.up != up || !sameShape(n.hb, hb) {
		t.changes++
	}
	n.hb, n.lastSeen, n.up = hb, seen, up
	t.notify.Lock()
	t.mu.Unlock()
	defer t.notify.Unlock()
	if ev != nil && t.cfg.OnChange != nil {
		t.cfg.OnChange(*ev)
	}
	return nil
}

// Check marks down every node silent for longer than the timeout at the
// tracker's clock, notifies, and returns the nodes that went down.
func (t *NodeTracker) Check() []NodeEvent {
	now := t.cfg.Now()
	var events []NodeEvent
	t.mu.Lock()
	for id, n := range t.nodes {
		if n.up && now.Sub(n.lastSeen) > t.cfg.Timeout {
			n.up = false
			t.changes++
			events = append(events, NodeEvent{NodeID: id, Up: false, At: now,
				Reason: fmt.Sprintf("no heartbeat for %v", t.cfg.Timeout)})
		}
	}
	t.notify.Lock()
	t.mu.Unlock()
	defer t.notify.Unlock()
	slices.SortFunc(events, func(a, b NodeEvent) int { return strings.Compare(a.NodeID, b.NodeID) })
	if t.cfg.OnChange != nil {
		for _, ev := range events {
			t.cfg.OnChange(ev)
		}
	}
	return events
}

// sameShape reports whether two heartbeats of a node describe the same
// capacity, labels and accelerators (what placement depends on besides liveness).
func sameShape(a, b fleet.Heartbeat) bool {
	return a.NodeID == b.NodeID && a.Capacity == b.Capacity && maps.Equal(a.Labels, b.Labels) &&
		slices.EqualFunc(a.Accelerators, b.Accelerators, func(x, y fleet.Accelerator) bool { return x.Kind == y.Kind && x.Count == y.Count })
}

// Changes counts the changes of the nodes that placement depends on: a node
// seen for the first time, coming up or going down (as Observe and Check
// notice it), or reporting other capacity, labels or accelerators. A caller
// that planned at one count need not plan again until it grows.
func (t *NodeTracker) Changes() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changes
}

// Snapshot freezes the nodes at now for the placement planner: nodes silent
// for longer than the timeout are down.
func (t *NodeTracker) Snapshot(now time.Time) *placement.Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.Snapshot(now, t.cfg.Timeout)
}

// Nodes lists every node ever seen, sorted by id, up or down as of now.
func (t *NodeTracker) Nodes(now time.Time) []NodeView {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]NodeView, 0, len(t.nodes))
	for _, n := range t.nodes {
		up := !n.hb.Stopping && now.Sub(n.lastSeen) <= t.cfg.Timeout
		out = append(out, NodeView{Heartbeat: n.hb, LastSeen: n.lastSeen, Up: up})
	}
	slices.SortFunc(out, func(a, b NodeView) int { return strings.Compare(a.Heartbeat.NodeID, b.Heartbeat.NodeID) })
	return out
}

// HandleMessage decodes a heartbeat record and observes it. A record that is
// not a valid heartbeat is logged and counted as skipped, not an error: one
// bad node must not stop the tracker.
func (t *NodeTracker) HandleMessage(msg *message.Message) {
	hb, err := fleet.DecodeHeartbeat(msg.Payload)
	if err == nil {
		err = t.Observe(hb)
	}
	if err != nil {
		t.mu.Lock()
		t.skipped++
		t.mu.Unlock()
		t.cfg.Logger.Warn("heartbeat skipped", "message", msg.UUID, "error", err)
	}
}

// Skipped counts heartbeats ignored: invalid, or older than one already seen.
func (t *NodeTracker) Skipped() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.skipped
}

// Run subscribes to topic and observes every heartbeat until ctx ends,
// checking for silent nodes every twentieth of the timeout (at most every
// second). It returns nil when ctx ends, or the subscription's error.
func (t *NodeTracker) Run(ctx context.Context, sub message.Subscriber, topic string) error {
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		return fmt.Errorf("node tracker: subscribe to %s: %w", topic, err)
	}
	every := min(max(t.cfg.Timeout/20, 10*time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.Check()
		case msg, ok := <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("node tracker: subscription to " + topic + " closed")
			}
			t.HandleMessage(msg)
			msg.Ack()
		}
	}
}
