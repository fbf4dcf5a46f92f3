package placement

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Cluster is where the planner's side effects go: it hands out snapshots and
// commits plans (for edgeflow's control plane, heartbeats and assignments on
// Kafka). Commit wraps ErrStalePlan when the plan no longer fits; the caller
// then plans again from a new snapshot.
type Cluster interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
	Commit(ctx context.Context, p *Plan) error
}

// Schedule runs one round: snapshot, plan, commit, retrying up to attempts
// times while the plan is stale.
func Schedule(ctx context.Context, c Cluster, p *Planner, tasks []Task, attempts int) (*Plan, error) {
	var lastErr error
	for range max(attempts, 1) {
		sn, err := c.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("schedule: snapshot: %w", err)
		}
		plan, err := p.Plan(ctx, sn, tasks)
		if err != nil {
			return nil, fmt.Errorf("schedule: %w", err)
		}
		if lastErr = c.Commit(ctx, plan); lastErr == nil {
			return plan, nil
		}
	}
	return nil, fmt.Errorf("schedule: commit: %w", lastErr)
}

// MemoryCluster is a Cluster held in memory, safe for concurrent use: a State
// with a clock and a heartbeat timeout.
type MemoryCluster struct {
	mu               sync.Mutex
	state            *State
	Now              func() time.Time // defaults to time.Now
	HeartbeatTimeout time.Duration    // 0: nodes are never down
}

// NewMemoryCluster returns a cluster of the given nodes.
func NewMemoryCluster(nodes []NodeStatus, heartbeatTimeout time.Duration) (*MemoryCluster, error) {
	st := NewState()
	for i, n := range nodes {
		if err := st.UpsertNode(n); err != nil {
			return nil, fmt.Errorf("nodes[%d]: %w", i, err)
		}
	}
	return &MemoryCluster{state: st, HeartbeatTimeout: heartbeatTimeout}, nil
}

// Update runs f on the state under the cluster's lock (heartbeats, finished tasks).
func (m *MemoryCluster) Update(f func(*State) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return f(m.state)
}

// Snapshot freezes the cluster now.
func (m *MemoryCluster) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Snapshot(now(), m.HeartbeatTimeout), nil
}

// Commit applies the plan to the state, or changes nothing and wraps ErrStalePlan.
func (m *MemoryCluster) Commit(ctx context.Context, p *Plan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Apply(p)
}

var _ Cluster = (*MemoryCluster)(nil)
