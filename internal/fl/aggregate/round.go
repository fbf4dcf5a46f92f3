package aggregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/model"
)

// Sampling chooses the clients of a round: max(Min, ⌈Fraction·n⌉) of the n
// available, at most n, drawn without replacement by a generator seeded with
// Seed and the round.
type Sampling struct {
	Fraction float64 // C in (0, 1]
	Min      int     // ≥ 0
	Seed     uint64
}

// Sample returns the round's clients, sorted. The choice depends only on
// the set of clients (not their order), the round and s.
func Sample(round uint64, clients []string, s Sampling) ([]string, error) {
	if !(s.Fraction > 0 && s.Fraction <= 1) {
		return nil, fmt.Errorf("sampling: fraction %v, want in (0,1]", s.Fraction)
	}
	if s.Min < 0 {
		return nil, fmt.Errorf("sampling: min %d, want ≥ 0", s.Min)
	}
	pool := slices.Clone(clients)
	slices.Sort(pool)
	pool = slices.Compact(pool)
	k := min(len(pool), max(s.Min, int(math.Ceil(s.Fraction*float64(len(pool))-1e-9))))
	rng := rand.New(rand.NewPCG(s.Seed, round))
	for i := range k { // partial Fisher–Yates
		j := i + rng.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
	}
	out := pool[:k:k]
	slices.Sort(out)
	return out, nil
}

// RoundPolicy says when a round closes: as soon as Quorum updates are
// accepted (0: every selected client), or at the deadline Timeout after it
// opened, whichever comes first.
type RoundPolicy struct {
	Quorum  int
	Timeout time.Duration // > 0
}

// Verdict is what Offer did with an update.
type Verdict int

const (
	Accepted   Verdict = iota
	Late               // an earlier round's, or after the round closed: dropped
	Future             // a later round's: dropped
	Duplicate          // the node already sent one this round: dropped
	Unselected         // the node was not sampled for this round: dropped
)

func (v Verdict) String() string {
	return [...]string{"accepted", "late", "future", "duplicate", "unselected"}[v]
}

// RoundStats counts what happened to a round's updates.
type RoundStats struct {
	Round      uint64
	Selected   int
	Accepted   int
	Late       int
	Future     int
	Duplicate  int
	Unselected int
	Stragglers []string // selected, no update when the round closed
	Duration   time.Duration
}

// Round collects the updates of one round. It does no I/O and reads no
// clock: callers pass the time. Not safe for concurrent use.
type Round struct {
	id       uint64
	selected map[string]bool
	quorum   int
	opened   time.Time
	deadline time.Time
	closed   bool
	got      map[string]bool
	updates  []*model.Update
	stats    RoundStats
}

// NewRound opens round id for the selected clients at time opened.
func NewRound(id uint64, selected []string, p RoundPolicy, opened time.Time) (*Round, error) {
	if len(selected) == 0 {
		return nil, fmt.Errorf("round %d: no clients selected", id)
	}
	if p.Timeout <= 0 {
		return nil, fmt.Errorf("round %d: timeout %v, want > 0", id, p.Timeout)
	}
	if p.Quorum < 0 || p.Quorum > len(selected) {
		return nil, fmt.Errorf("round %d: quorum %d not in [0,%d]", id, p.Quorum, len(selected))
	}
	r := &Round{id: id, selected: map[string]bool{}, got: map[string]bool{}, quorum: p.Quorum,
		opened: opened, deadline: opened.Add(p.Timeout)}
	if r.quorum == 0 {
		r.quorum = len(selected)
	}
	for _, s := range selected {
		r.selected[s] = true
	}
	r.stats = RoundStats{Round: id, Selected: len(r.selected)}
	return r, nil
}

// Deadline is when the round closes at the latest.
func (r *Round) Deadline() time.Time { return r.deadline }

// Offer takes u, received at now, and says what became of it.
func (r *Round) Offer(u *model.Update, now time.Time) Verdict {
	switch {
	case u.Round < r.id || r.closed || !now.Before(r.deadline):
		r.stats.Late++
		return Late
	case u.Round > r.id:
		r.stats.Future++
		return Future
	case !r.selected[u.Node]:
		r.stats.Unselected++
		return Unselected
	case r.got[u.Node]:
		r.stats.Duplicate++
		return Duplicate
	}
	r.got[u.Node] = true
	r.updates = append(r.updates, u)
	r.stats.Accepted++
	return Accepted
}

// Ready reports whether the round may close: quorum reached or deadline passed.
func (r *Round) Ready(now time.Time) bool {
	return len(r.updates) >= r.quorum || !now.Before(r.deadline)
}

// Close ends the round at now and returns the accepted updates (in arrival
// order) and the statistics. Later Offers count as late.
func (r *Round) Close(now time.Time) ([]*model.Update, RoundStats) {
	r.closed = true
	st := r.stats
	st.Duration = now.Sub(r.opened)
	for s := range r.selected {
		if !r.got[s] {
			st.Stragglers = append(st.Stragglers, s)
		}
	}
	slices.Sort(st.Stragglers)
	return slices.Clip(r.updates), st
}

// Transport is everything RunRound does besides computing: sending the
// global model to the round's clients and receiving their updates.
type Transport interface {
	// Broadcast sends the global model of round to the selected clients.
	Broadcast(ctx context.Context, round uint64, selected []string, global model.Model) error
	// Receive blocks until an update arrives (of any round) or ctx ends.
	Receive(ctx context.Context) (*model.Update, error)
}

// Coordinator is the configuration of RunRound.
type Coordinator struct {
	Sampling  Sampling
	Policy    RoundPolicy
	Aggregate Config
	Now       func() time.Time // nil: time.Now
}

// RunRound runs round id over clients: sample, broadcast global, collect
// until quorum or deadline, aggregate. A round with no usable update returns
// the stats and an error wrapping ErrNoUpdates; the caller keeps the old
// global model.
func (c Coordinator) RunRound(ctx context.Context, tr Transport, id uint64, clients []string, global model.Model) (Result, RoundStats, error) {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	selected, err := Sample(id, clients, c.Sampling)
	if err != nil {
		return Result{}, RoundStats{}, err
	}
	r, err := NewRound(id, selected, c.Policy, now())
	if err != nil {
		return Result{}, RoundStats{}, err
	}
	if err := tr.Broadcast(ctx, id, selected, global); err != nil {
		return Result{}, RoundStats{}, fmt.Errorf("round %d: broadcast: %w", id, err)
	}
	rctx, cancel := context.WithDeadline(ctx, r.Deadline())
	defer cancel()
	for !r.Ready(now()) {
		u, err := tr.Receive(rctx)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, RoundStats{}, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			return Result{}, RoundStats{}, fmt.Errorf("round %d: receive: %w", id, err)
		}
		if u != nil {
			r.Offer(u, now())
		}
	}
	updates, stats := r.Close(now())
	res, err := Aggregate(ctx, id, global, updates, c.Aggregate)
	return res, stats, err
}
