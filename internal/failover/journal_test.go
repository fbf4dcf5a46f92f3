package failover

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
)

// This file: what a failed run prints, so that one CI log says why — every
// process's log, one timeline of what the test saw (heartbeats, slow or failed
// acknowledgements to the producer) merged with the processes' key log lines,
// and the readings that did not arrive.

// journal is the timeline of one run: events the test observed, in seconds
// after the kill (before it, negative; before the kill happened, after the
// start of the test).
type journal struct {
	mu       sync.Mutex
	start    time.Time
	killedAt time.Time
	events   []event
}

type event struct {
	at   time.Time
	who  string // "test", a process name
	what string
}

func newJournal() *journal { return &journal{start: time.Now()} }

func (j *journal) add(who, format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, event{time.Now(), who, fmt.Sprintf(format, args...)})
}

func (j *journal) killed(at time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.killedAt = at
}

// zero is what times are relative to: the kill, or the start of the test
// before it.
func (j *journal) zero() (time.Time, string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.killedAt.IsZero() {
		return j.start, "the start of the test (no node was killed)"
	}
	return j.killedAt, "the kill"
}

func (j *journal) since(at time.Time) string {
	zero, _ := j.zero()
	return fmt.Sprintf("%+7.2f s", at.Sub(zero).Seconds())
}

// watchHeartbeats adds to j every change the tracker shows — a node going up
// or down, the pipelines its heartbeat lists — and every gap between two
// heartbeats of a node longer than twice the interval, until ctx ends.
func watchHeartbeats(ctx context.Context, j *journal, tracker *cloud.NodeTracker, interval time.Duration) {
	type seen struct {
		up        bool
		pipelines string
		lastSeen  time.Time
		seq       uint64
	}
	last := map[string]seen{}
	tick := time.NewTicker(interval / 5)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, v := range tracker.Nodes(time.Now()) {
			hb := v.Heartbeat
			now := seen{up: v.Up, pipelines: fmt.Sprint(hb.Pipelines), lastSeen: v.LastSeen, seq: hb.Sequence}
			before, known := last[hb.NodeID]
			last[hb.NodeID] = now
			switch {
			case !known:
				j.add("heartbeats", "%s first seen: up %v, running %s (seq %d)", hb.NodeID, now.up, now.pipelines, now.seq)
				continue
			case before.up != now.up:
				state := "DOWN (no heartbeat for the timeout)"
				if now.up {
					state = "up"
				} else if hb.Stopping {
					state = "down (its last heartbeat says it stops)"
				}
				j.add("heartbeats", "%s %s; last heartbeat seq %d arrived %s", hb.NodeID, state, now.seq, j.since(now.lastSeen))
			}
			if before.pipelines != now.pipelines {
				j.add("heartbeats", "%s now runs %s (seq %d)", hb.NodeID, now.pipelines, now.seq)
			}
			if gap := now.lastSeen.Sub(before.lastSeen); now.seq != before.seq && gap > 2*interval {
				j.add("heartbeats", "%s: %.2f s between heartbeats seq %d and %d (interval %s)", hb.NodeID, gap.Seconds(), before.seq, now.seq, interval)
			}
		}
	}
}

// keySteps are the log lines that make the merged timeline: what the
// scheduler decided, what each node did about its assignments and consumer
// groups, and every warning and error.
var keySteps = []string{
	`msg="node up"`, `msg="node down"`, `msg="task moved`, `msg="task placed"`, `msg="assignments written"`,
	`msg=assignment `, `msg="assignment cleared"`, `msg="task started"`, `msg="task stopped"`, `msg="task failed`,
	`msg="draining pipeline"`, `msg="pipeline stopped"`, `kafka reader: Joined group`, `kafka reader: Leaving group`,
	`kafka reader: subscribed to topics and partitions`, `msg="first kafka record fetched"`, `level=WARN`, `level=ERROR`,
}

// logEvents returns the key lines of a process's log as events.
func logEvents(p *process) []event {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return []event{{time.Now(), p.name, "reading the log: " + err.Error()}}
	}
	var out []event
	for _, line := range strings.Split(string(data), "\n") {
		if !slices.ContainsFunc(keySteps, func(s string) bool { return strings.Contains(line, s) }) {
			continue
		}
		ts, ok := strings.CutPrefix(line, "time=")
		if !ok {
			continue
		}
		ts, rest, _ := strings.Cut(ts, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		out = append(out, event{at, p.name, rest})
	}
	return out
}

// report logs, for a failed run, the full log of every process, the merged
// timeline, and the readings acknowledged to the producer that did not arrive
// with their neighbours.
func (j *journal) report(t *testing.T, procs []*process, prod *producer, got *received) {
	t.Helper()
	for _, p := range procs {
		data, _ := os.ReadFile(p.log)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		const most = 400
		if len(lines) > most {
			lines = append([]string{fmt.Sprintf("(%d earlier lines left out)", len(lines)-most)}, lines[len(lines)-most:]...)
		}
		t.Logf("--- log of %s (%s):\n%s", p.name, p.log, strings.Join(lines, "\n"))
	}
	j.mu.Lock()
	events := slices.Clone(j.events)
	j.mu.Unlock()
	for _, p := range procs {
		events = append(events, logEvents(p)...)
	}
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	_, what := j.zero()
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%s  %-22s %s\n", j.since(e.at), e.who, e.what)
	}
	t.Logf("--- timeline, seconds after %s:\n%s", what, b.String())
	t.Logf("--- readings:\n%s", j.lossReport(prod, got))
}

// lossReport lists, per task, how many readings were acknowledged and
// delivered, and each one missing with when it was acknowledged, the last
// reading of the task delivered before it and the first after.
func (j *journal) lossReport(prod *producer, got *received) string {
	prod.mu.Lock()
	acked := map[string][]ackedReading{}
	for task, rs := range prod.acked {
		acked[task] = slices.Clone(rs)
	}
	prod.mu.Unlock()
	got.mu.Lock()
	defer got.mu.Unlock()
	var b strings.Builder
	for _, task := range slices.Sorted(mapsKeys(acked)) {
		rs := acked[task]
		var missing []ackedReading
		var lastAck time.Time
		for _, r := range rs {
			if _, ok := got.first[r.payload]; !ok {
				missing = append(missing, r)
			}
			lastAck = r.at
		}
		fmt.Fprintf(&b, "%s: %d acknowledged (the last %s), %d missing\n", task, len(rs), j.since(lastAck), len(missing))
		for i, m := range missing {
			if i == 20 {
				fmt.Fprintf(&b, "  ... %d more\n", len(missing)-i)
				break
			}
			fmt.Fprintf(&b, "  %s acknowledged %s; %s\n", m.payload, j.since(m.at), neighbours(rs, got.first, m.payload, j))
		}
	}
	return b.String()
}

// neighbours says when the delivered readings acknowledged just before and
// just after payload arrived.
func neighbours(rs []ackedReading, first map[string]time.Time, payload string, j *journal) string {
	i := slices.IndexFunc(rs, func(r ackedReading) bool { return r.payload == payload })
	var parts []string
	for k := i - 1; k >= 0; k-- {
		if at, ok := first[rs[k].payload]; ok {
			parts = append(parts, fmt.Sprintf("%s (before it) arrived %s", rs[k].payload, j.since(at)))
			break
		}
	}
	for k := i + 1; k < len(rs); k++ {
		if at, ok := first[rs[k].payload]; ok {
			parts = append(parts, fmt.Sprintf("%s (after it) arrived %s", rs[k].payload, j.since(at)))
			break
		}
	}
	return cmp.Or(strings.Join(parts, ", "), "no reading of the task arrived")
}
