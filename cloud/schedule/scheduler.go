package schedule

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/placement"
)

// AssignmentWriter is where the scheduler's decisions go: one node's full
// desired set of tasks, and the status (the tasks that wait and why).
// KafkaAssignments writes them to the assignment and status topics.
type AssignmentWriter interface {
	WriteAssignment(ctx context.Context, a fleet.Assignment) error
	WriteStatus(ctx context.Context, st fleet.SchedulerStatus) error
}

// Config configures a Scheduler. Planner, Tracker and Writer are required.
type Config struct {
	Planner *placement.Planner
	// Tracker knows the nodes: their capacity, labels and liveness from heartbeats.
	Tracker *cloud.NodeTracker
	Writer  AssignmentWriter
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger
}

// Scheduler places the submitted tasks on the nodes the tracker knows and
// writes each node's assignment. Its state (tasks, which node each runs on,
// why others wait) lives in memory; safe for concurrent use.
type Scheduler struct {
	cfg  Config
	wake chan struct{}

	mu        sync.Mutex
	tasks     map[string]fleet.Task
	assigned  map[string]string // task id → node id
	pending   map[string]string // task id → why it waits
	published map[string]string // node id → fingerprint of the set last written
	rev       map[string]uint64 // task id → revision (PutTask count) of its spec
	revs      uint64
	// A round with no task change, the same nodes (liveness, capacity,
	// labels) and no failed write has nothing to do: placement depends on
	// nothing else, so even waiting tasks would wait for the same reasons.
	dirty       bool
	nodesSeen   uint64 // NodeTracker.Changes at the last full round
	retry       bool
	assignments AssignmentMap // Report.Assignments of the last full round
	status      string        // fingerprint of the pending list last written
	statusOK    bool          // a status was written
	generation  uint64

	// The placement state rounds plan on, kept between rounds (nodestate.go);
	// nil until the first round, and after Recover, which rebuild it.
	state       *placement.State
	nodes       map[string]*nodeRecord    // node id → what state holds about it
	placements  map[string]placement.Task // task id → Task.Placement()
	unplaced    map[string]struct{}       // tasks not assigned to a node of state
	touched     map[string]struct{}       // nodes whose tasks changed since state was written
	toWrite     map[string]struct{}       // nodes whose assignment may differ from the one written
	nodesSynced uint64                    // NodeTracker.Changes when state's nodes were last compared
	resync      bool                      // compare the nodes at the next round all the same
	live        []bool                    // the tracker's nodes up then, in its order
	liveBuf     []bool
}

// New checks cfg and returns a scheduler with no tasks.
func New(cfg Config) (*Scheduler, error) {
	switch {
	case cfg.Planner == nil:
		return nil, errors.New("scheduler: no planner")
	case cfg.Tracker == nil:
		return nil, errors.New("scheduler: no node tracker")
	case cfg.Writer == nil:
		return nil, errors.New("scheduler: no assignment writer")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1), tasks: map[string]fleet.Task{},
		assigned: map[string]string{}, pending: map[string]string{}, published: map[string]string{}, rev: map[string]uint64{},
		placements: map[string]placement.Task{}, unplaced: map[string]struct{}{}, touched: map[string]struct{}{},
		toWrite: map[string]struct{}{}}, nil
}

// Poke asks Run for a round soon (a node came up or went down). It never blocks.
func (s *Scheduler) Poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// PutTask adds or replaces a task. A task whose run spec changed stays where it
// runs (the node restarts it); one whose resources or constraints changed is
// placed again.
func (s *Scheduler) PutTask(t fleet.Task) {
	s.mu.Lock()
	old, ok := s.tasks[t.ID]
	if ok && reflect.DeepEqual(old, t) { // submitted again as it was: nothing to do
		s.mu.Unlock()
		return
	}
	s.tasks[t.ID] = t
	s.placements[t.ID] = t.Placement()
	s.revs++
	s.rev[t.ID], s.dirty = s.revs, true
	switch node, assigned := s.assigned[t.ID]; {
	case !ok:
		s.unplaced[t.ID] = struct{}{}
	case !placementEqual(old, t):
		s.unassign(t.ID)
	case assigned: // runs on as it is; the node restarts it
		s.toWrite[node] = struct{}{}
	}
	s.mu.Unlock()
	s.Poke()
}

func placementEqual(a, b fleet.Task) bool {
	pa, pb := a.Placement(), b.Placement()
	return pa.Group == pb.Group && pa.Priority == pb.Priority && pa.Request == pb.Request &&
		maps.Equal(pa.Constraints.RequiredLabels, pb.Constraints.RequiredLabels) && pa.Constraints.NearSite == pb.Constraints.NearSite &&
		pa.Constraints.Accelerator == pb.Constraints.Accelerator && pa.Constraints.Spread == pb.Constraints.Spread
}

// DeleteTask forgets a task; the next round takes it off its node.
func (s *Scheduler) DeleteTask(id string) {
	s.mu.Lock()
	delete(s.tasks, id)
	s.unassign(id)
	delete(s.unplaced, id)
	delete(s.placements, id)
	delete(s.pending, id)
	delete(s.rev, id)
	s.dirty = true
	s.mu.Unlock()
	s.Poke()
}

// Recover takes an assignment written before (read back from the assignment
// topic at start): its tasks stay on its node if they are still submitted and
// fit, so a restarted scheduler does not move running work.
func (s *Scheduler) Recover(a fleet.Assignment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.assigned { // an earlier record of the same node
		if n == a.NodeID {
			delete(s.assigned, id)
		}
	}
	for _, t := range a.Tasks {
		s.assigned[t.ID] = a.NodeID
	}
	// Never equal to a fingerprint of this scheduler: the node's assignment is
	// written once more, with the same tasks (the node keeps them running).
	s.published[a.NodeID] = "recovered"
	s.generation = max(s.generation, a.Generation)
	s.dirty = true
	s.state = nil // rebuilt from the assignments at the next round
}

// Pending is a task that waits, and why.
type Pending struct {
	TaskID string
	Reason string // from the placement filters, e.g. "0/3 nodes can take it: 2 insufficient memory, 1 down"
}

// Report is what one round decided.
type Report struct {
	Generation  uint64
	Placed      []placement.Placement // new placements, and tasks moved off down nodes (From set)
	Preempted   []placement.Preemption
	Pending     []Pending     // every task that waits after the round, by id
	Assignments AssignmentMap // node → its task ids
	Written     []string      // nodes whose assignment was written this round
	// Planned is false for a round that returned at once: nothing had
	// changed since the last one that planned.
	Planned bool
}

// Round plans the tasks not running anywhere (new, waiting, preempted, or on a
// node that went down) against a snapshot of the nodes and writes the
// assignment of every node whose set of tasks changed. Nodes are placed on by
// their capacity minus the requests of the tasks assigned to them, as
// Kubernetes does, not by the free resources they measure. A task that no node
// can take waits, with the reason; capacity is never overcommitted. A failed
// write is retried at the next round. A round after which no task changed, no
// node changed liveness, capacity or labels (NodeTracker.Changes) and every
// write succeeded returns at once: the plan could not differ.
//
// The snapshot comes from a placement.State the scheduler keeps between
// rounds and updates with what changed since the last one (the nodes the
// tracker saw change or that went up or down, the nodes whose tasks changed),
// copying only their pages: it always equals the state rebuilt from every node
// and assignment, so the plan is the same, at a cost that grows with the
// changes rather than with the cluster.
func (s *Scheduler) Round(ctx context.Context) (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	seen := s.cfg.Tracker.Changes()
	if !s.dirty && !s.retry && seen == s.nodesSeen && s.assignments.shards != nil {
		rep := Report{Generation: s.generation, Assignments: s.assignments}
		for _, id := range slices.Sorted(maps.Keys(s.pending)) {
			rep.Pending = append(rep.Pending, Pending{TaskID: id, Reason: s.pending[id]})
		}
		return rep, nil
	}
	s.dirty, s.nodesSeen = false, seen
	s.syncState(now, seen)
	unplaced := make([]placement.Task, 0, len(s.unplaced))
	for _, id := range slices.Sorted(maps.Keys(s.unplaced)) {
		unplaced = append(unplaced, s.placements[id])
	}
	plan, err := s.cfg.Planner.Plan(ctx, s.state.Snapshot(now, 0), unplaced)
	if err != nil {
		s.dirty = true // plan again next round
		return Report{}, fmt.Errorf("schedule round: %w", err)
	}
	rep := Report{Placed: plan.Placements, Preempted: plan.Preemptions, Planned: true}
	for _, p := range plan.Placements {
		s.assign(p.Task.ID, p.NodeID)
		delete(s.pending, p.Task.ID)
		if p.From != "" {
			s.cfg.Logger.Info("task moved off a down node", "task", p.Task.ID, "from", p.From, "to", p.NodeID)
		} else {
			s.cfg.Logger.Info("task placed", "task", p.Task.ID, "node", p.NodeID)
		}
	}
	for _, pre := range plan.Preemptions {
		s.unassign(pre.Task.ID)
		s.setPending(pre.Task.ID, "preempted by "+pre.For+" on "+pre.NodeID)
		s.dirty = true // the evicted task is planned in the next round
	}
	for _, w := range plan.Waiting {
		s.unassign(w.Task.ID)
		s.setPending(w.Task.ID, w.Reason)
	}
	if s.applyTouched() {
		s.dirty = true // a task did not fit after all: plan it next round
	}
	for _, id := range slices.Sorted(maps.Keys(s.pending)) {
		rep.Pending = append(rep.Pending, Pending{TaskID: id, Reason: s.pending[id]})
	}

	// Only the nodes whose set of tasks (or a task's spec) changed, seen for
	// the first time, or whose last write failed can differ from what was
	// written; a node seen for the first time gets its (maybe empty)
	// assignment, so it knows it has been heard of and reports ready.
	assignments := assignmentMapWriter{m: s.assignments}
	changed := false
	var writes []fleet.Assignment
	for _, n := range slices.Sorted(maps.Keys(s.toWrite)) {
		tasks := s.desired(n)
		ids := make([]string, 0, len(tasks))
		for _, t := range tasks {
			ids = append(ids, t.ID)
		}
		if !slices.Equal(ids, s.assignments.Of(n)) {
			assignments.set(n, ids)
		}
		if fp, ok := s.published[n]; ok && fp == s.fingerprint(tasks) {
			delete(s.toWrite, n)
			continue
		}
		if !changed {
			changed = true
			s.generation++
		}
		writes = append(writes, fleet.Assignment{Schema: fleet.AssignmentSchemaVersion, NodeID: n, Time: now.UTC(), Tasks: tasks})
	}
	rep.Assignments = assignments.result()
	var errs []error
	for _, a := range writes {
		a.Generation = s.generation
		if err := s.cfg.Writer.WriteAssignment(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("assignment of %s: %w", a.NodeID, err))
			continue
		}
		s.published[a.NodeID] = s.fingerprint(a.Tasks)
		delete(s.toWrite, a.NodeID)
		rep.Written = append(rep.Written, a.NodeID)
	}
	rep.Generation = s.generation
	pending := make([]fleet.PendingTask, 0, len(rep.Pending))
	for _, p := range rep.Pending {
		pending = append(pending, fleet.PendingTask{ID: p.TaskID, Reason: p.Reason})
	}
	if fp, _ := json.Marshal(pending); !s.statusOK || string(fp) != s.status {
		st := fleet.SchedulerStatus{Schema: fleet.StatusSchemaVersion, Time: now.UTC(), Generation: s.generation, Pending: pending}
		if err := s.cfg.Writer.WriteStatus(ctx, st); err != nil {
			errs = append(errs, fmt.Errorf("status: %w", err))
		} else {
			s.status, s.statusOK = string(fp), true
		}
	}
	s.retry = len(errs) > 0
	s.assignments = rep.Assignments
	return rep, errors.Join(errs...)
}

// desired is the set of tasks of node as its assignment says it, by id (an
// empty slice, not nil, for none). Under mu.
func (s *Scheduler) desired(node string) []fleet.Task {
	tasks := []fleet.Task{}
	if r := s.nodes[node]; r != nil {
		for _, id := range slices.Sorted(maps.Keys(r.tasks)) {
			tasks = append(tasks, s.tasks[id])
		}
	}
	return tasks
}

func (s *Scheduler) setPending(id, reason string) {
	if s.pending[id] != reason {
		s.cfg.Logger.Info("task waits", "task", id, "reason", reason)
	}
	s.pending[id] = reason
}

// fingerprint identifies a set of tasks as written in an assignment: their
// ids and spec revisions ("" for none). Under mu.
func (s *Scheduler) fingerprint(tasks []fleet.Task) string {
	var b strings.Builder
	for _, t := range tasks {
		b.WriteString(t.ID)
		b.WriteByte('@')
		b.WriteString(strconv.FormatUint(s.rev[t.ID], 10))
		b.WriteByte(';')
	}
	return b.String()
}

// Pending lists the tasks that wait after the last round, by id.
func (s *Scheduler) Pending() []Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pending
	for _, id := range slices.Sorted(maps.Keys(s.pending)) {
		out = append(out, Pending{TaskID: id, Reason: s.pending[id]})
	}
	return out
}

// HandleTask applies one record of the task topic: a task, or an empty record
// (tombstone) deleting the task of its key. A record that does not decode is
// logged and skipped.
func (s *Scheduler) HandleTask(msg *message.Message) {
	key := recordKey(msg, fleet.MetaTask)
	if len(msg.Payload) == 0 {
		if key != "" {
			s.cfg.Logger.Info("task deleted", "task", key)
			s.DeleteTask(key)
		}
		return
	}
	t, err := fleet.DecodeTask(msg.Payload)
	if err == nil && key != "" && key != t.ID {
		err = fmt.Errorf("task record keyed %q holds task %q", key, t.ID)
	}
	if err != nil {
		s.cfg.Logger.Warn("task record skipped", "message", msg.UUID, "error", err)
		return
	}
	s.PutTask(t)
}

func recordKey(msg *message.Message, meta string) string {
	if rec, ok := kafkabus.RecordFromContext(msg.Context()); ok && len(rec.Key) > 0 {
		return string(rec.Key)
	}
	return msg.Metadata.Get(meta)
}

// RunConfig says where Run reads and how often it plans.
type RunConfig struct {
	Subscriber      message.Subscriber // reads every record of a topic from the oldest (no shared group)
	TaskTopic       string             // default edgeflow.tasks
	HeartbeatTopic  string             // default edgeflow.heartbeats
	AssignmentTopic string             // default edgeflow.assignments
	// Settle is how long Run only reads (tasks, heartbeats and the assignments
	// written before, which it recovers) before its first round, so live nodes
	// have been heard from (default: the tracker's timeout).
	Settle time.Duration
	// Interval between rounds when nothing happens (default 1s); a task change
	// or a node going up or down triggers one at once.
	Interval time.Duration
	// OnRound, if set, gets every round's report.
	OnRound func(Report, error)
}

// Run reads tasks, heartbeats and (until the first round) earlier assignments,
// and plans rounds until ctx ends; it returns nil then, or a subscription's error.
func (s *Scheduler) Run(ctx context.Context, rc RunConfig) error {
	if rc.Subscriber == nil {
		return errors.New("scheduler: no subscriber")
	}
	rc.TaskTopic = cmp.Or(rc.TaskTopic, fleet.TaskTopic)
	rc.HeartbeatTopic = cmp.Or(rc.HeartbeatTopic, fleet.HeartbeatTopic)
	rc.AssignmentTopic = cmp.Or(rc.AssignmentTopic, fleet.AssignmentTopic)
	if rc.Settle <= 0 {
		rc.Settle = s.cfg.Tracker.Timeout()
	}
	if rc.Interval <= 0 {
		rc.Interval = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.cfg.Tracker.Run(ctx, rc.Subscriber, rc.HeartbeatTopic); err != nil {
			errc <- err
		}
	}()
	tasks, err := rc.Subscriber.Subscribe(ctx, rc.TaskTopic)
	if err != nil {
		return fmt.Errorf("scheduler: subscribe to %s: %w", rc.TaskTopic, err)
	}
	earlier, err := rc.Subscriber.Subscribe(ctx, rc.AssignmentTopic)
	if err != nil {
		return fmt.Errorf("scheduler: subscribe to %s: %w", rc.AssignmentTopic, err)
	}
	settled := time.NewTimer(rc.Settle)
	defer settled.Stop()
	s.cfg.Logger.Info("scheduler reading", "tasks", rc.TaskTopic, "heartbeats", rc.HeartbeatTopic, "assignments", rc.AssignmentTopic, "settle", rc.Settle)
	for earlier != nil {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case msg, ok := <-tasks:
			if !ok {
				return subscriptionClosed(ctx, rc.TaskTopic)
			}
			s.HandleTask(msg)
			msg.Ack()
		case msg, ok := <-earlier:
			if !ok {
				return subscriptionClosed(ctx, rc.AssignmentTopic)
			}
			if len(msg.Payload) > 0 {
				if a, err := fleet.DecodeAssignment(msg.Payload); err == nil {
					s.Recover(a)
				} else {
					s.cfg.Logger.Warn("earlier assignment skipped", "error", err)
				}
			}
			msg.Ack()
		case <-settled.C:
			earlier = nil // what comes back now is the scheduler's own writing
		}
	}
	tick := time.NewTicker(rc.Interval)
	defer tick.Stop()
	round := func() {
		rep, err := s.Round(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("schedule round", "error", err)
		}
		if rc.OnRound != nil && ctx.Err() == nil {
			rc.OnRound(rep, err)
		}
	}
	round()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case msg, ok := <-tasks:
			if !ok {
				return subscriptionClosed(ctx, rc.TaskTopic)
			}
			s.HandleTask(msg)
			msg.Ack()
		case <-s.wake:
			round()
		case <-tick.C:
			round()
		}
	}
}

func subscriptionClosed(ctx context.Context, topic string) error {
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("scheduler: subscription to " + topic + " closed")
}

// KafkaAssignments writes assignments and the status to their topics through
// a publisher keyed by RecordKey (kafkabus.PublisherConfig{Key: schedule.RecordKey}).
type KafkaAssignments struct {
	Publisher   message.Publisher
	Topic       string // default edgeflow.assignments
	StatusTopic string // default edgeflow.schedule
}

// metaRecordKey holds the key of a record the scheduler writes.
const metaRecordKey = "edgeflow-key"

// RecordKey is the kafkabus KeyFunc of the scheduler's publisher: the node id
// of an assignment, fleet.StatusKey for the status.
func RecordKey(_ string, msg *message.Message) []byte {
	if k := msg.Metadata.Get(metaRecordKey); k != "" {
		return []byte(k)
	}
	return fleet.NodeKey("", msg)
}

// WriteAssignment publishes a as JSON with the edgeflow-node and content-type headers.
func (k KafkaAssignments) WriteAssignment(ctx context.Context, a fleet.Assignment) error {
	msg, err := newRecord(ctx, a, fleet.AssignmentContentType)
	if err != nil {
		return err
	}
	msg.Metadata.Set(fleet.MetaNode, a.NodeID)
	return k.publish(ctx, cmp.Or(k.Topic, fleet.AssignmentTopic), msg)
}

// WriteStatus publishes st keyed fleet.StatusKey.
func (k KafkaAssignments) WriteStatus(ctx context.Context, st fleet.SchedulerStatus) error {
	msg, err := newRecord(ctx, st, fleet.StatusContentType)
	if err != nil {
		return err
	}
	msg.Metadata.Set(metaRecordKey, fleet.StatusKey)
	return k.publish(ctx, cmp.Or(k.StatusTopic, fleet.StatusTopic), msg)
}

func newRecord(ctx context.Context, v any, contentType string) (*message.Message, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage(watermill.NewUUID(), data)
	msg.SetContext(ctx)
	msg.Metadata.Set("content-type", contentType)
	return msg, nil
}

func (k KafkaAssignments) publish(ctx context.Context, topic string, msg *message.Message) error {
	if pc, ok := k.Publisher.(interface {
		PublishContext(context.Context, string, ...*message.Message) error
	}); ok {
		return pc.PublishContext(ctx, topic, msg)
	}
	return k.Publisher.Publish(topic, msg)
}

var _ AssignmentWriter = KafkaAssignments{}
