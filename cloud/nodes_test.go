package cloud

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/placement"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func heartbeat(id string, at time.Time, seq uint64) fleet.Heartbeat {
	return fleet.Heartbeat{Schema: 1, NodeID: id, Version: "test", Time: at, Sequence: seq, IntervalMillis: 1000,
		Labels:    map[string]string{"zone": "a"},
		Capacity:  fleet.HeartbeatResources{MilliCPU: 4000, MemoryBytes: 1 << 30, DiskBytes: 10 << 30},
		Free:      fleet.HeartbeatResources{MilliCPU: 2500, MemoryBytes: 1 << 29, DiskBytes: 5 << 30},
		Pipelines: []string{"boiler"}}
}

func TestNodeTrackerLiveness(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var events []NodeEvent
	tr, err := NewNodeTracker(NodeTrackerConfig{Timeout: 3 * time.Second, Now: clock.Now,
		OnChange: func(ev NodeEvent) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		advance    time.Duration
		heartbeats []string
		wantUp     map[string]bool
		wantEvents []string // "id up" or "id down"
	}{
		{"both nodes report", 0, []string{"n1", "n2"}, map[string]bool{"n1": true, "n2": true}, []string{"n1 up", "n2 up"}},
		{"n1 reports, n2 silent within timeout", 2 * time.Second, []string{"n1"}, map[string]bool{"n1": true, "n2": true}, nil},
		{"exactly at the timeout n2 is still up", time.Second, []string{"n1"}, map[string]bool{"n1": true, "n2": true}, nil},
		{"past the timeout n2 is down", time.Millisecond, []string{"n1"}, map[string]bool{"n1": true, "n2": false}, []string{"n2 down"}},
		{"n2 reports again and is back up", time.Second, []string{"n2"}, map[string]bool{"n1": true, "n2": true}, []string{"n2 up"}},
		{"both silent past the timeout", 4 * time.Second, nil, map[string]bool{"n1": false, "n2": false}, []string{"n1 down", "n2 down"}},
	}
	var seq uint64
	for _, st := range steps {
		events = nil
		clock.Advance(st.advance)
		for _, id := range st.heartbeats {
			seq++
			if err := tr.Observe(heartbeat(id, clock.Now(), seq)); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		tr.Check()
		var got []string
		for _, ev := range events {
			got = append(got, ev.NodeID+map[bool]string{true: " up", false: " down"}[ev.Up])
		}
		if !slicesEqual(got, st.wantEvents) {
			t.Errorf("%s: events %v, want %v", st.name, got, st.wantEvents)
		}
		snap := tr.Snapshot(clock.Now())
		for id, wantUp := range st.wantUp {
			_, _, up, err := snap.Node(id)
			if err != nil || up != wantUp {
				t.Errorf("%s: snapshot %s up=%v (%v), want %v", st.name, id, up, err, wantUp)
			}
		}
		for _, v := range tr.Nodes(clock.Now()) {
			if v.Up != st.wantUp[v.Heartbeat.NodeID] {
				t.Errorf("%s: Nodes %s up=%v", st.name, v.Heartbeat.NodeID, v.Up)
			}
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNodeTrackerMapsResources(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tr, err := NewNodeTracker(NodeTrackerConfig{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hb := heartbeat("n1", clock.Now(), 1)
	hb.Capacity.Accelerators, hb.Free.Accelerators = 2, 1
	hb.Accelerators = []fleet.Accelerator{{Kind: "npu", Count: 2}}
	if err := tr.Observe(hb); err != nil {
		t.Fatal(err)
	}
	st, free, up, err := tr.Snapshot(clock.Now()).Node("n1")
	if err != nil || !up {
		t.Fatalf("Node = %v, %v", up, err)
	}
	want := placement.Resources{MilliCPU: 2500, MemoryBytes: 1 << 29, DiskBytes: 5 << 30, Accelerators: 1}
	if free != want || st.AcceleratorKind != "npu" || st.Labels["zone"] != "a" || len(st.Tasks) != 1 || st.Tasks[0].ID != "n1/boiler" {
		t.Fatalf("Node = %+v free %+v, want free %+v", st, free, want)
	}
}

func TestNodeTrackerOrderAndReplay(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tr, err := NewNodeTracker(NodeTrackerConfig{Timeout: 3 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hb      fleet.Heartbeat
		wantUp  bool
		wantSeq uint64
	}{
		{"replayed record from an hour ago: known but down", heartbeat("n1", clock.Now().Add(-time.Hour), 1), false, 1},
		{"fresh heartbeat: up", heartbeat("n1", clock.Now(), 2), true, 2},
		{"older heartbeat after a newer one: ignored", heartbeat("n1", clock.Now().Add(-time.Second), 3), true, 2},
		{"stopping heartbeat: down at once", func() fleet.Heartbeat {
			hb := heartbeat("n1", clock.Now().Add(time.Millisecond), 4)
			hb.Stopping = true
			return hb
		}(), false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tr.Observe(tt.hb); err != nil {
				t.Fatal(err)
			}
			nodes := tr.Nodes(clock.Now())
			if len(nodes) != 1 || nodes[0].Up != tt.wantUp || nodes[0].Heartbeat.Sequence != tt.wantSeq {
				t.Fatalf("Nodes = %+v", nodes)
			}
			if _, _, up, _ := tr.Snapshot(clock.Now()).Node("n1"); up != tt.wantUp {
				t.Fatalf("snapshot up = %v", up)
			}
		})
	}
	if err := tr.Observe(fleet.Heartbeat{Schema: 9}); err == nil {
		t.Fatal("invalid heartbeat observed without an error")
	}
}

// A node reports, goes silent past the timeout and is marked down; the
// snapshot for the planner says so too.
func ExampleNodeTracker() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tracker, _ := NewNodeTracker(NodeTrackerConfig{
		Timeout:  15 * time.Second,
		Now:      func() time.Time { return now },
		OnChange: func(ev NodeEvent) { fmt.Println(ev.NodeID, "up:", ev.Up, "-", ev.Reason) },
	})
	_ = tracker.Observe(fleet.Heartbeat{Schema: 1, NodeID: "gw-7", Time: now, Sequence: 1,
		Capacity: fleet.HeartbeatResources{MilliCPU: 4000}, Free: fleet.HeartbeatResources{MilliCPU: 3000}})
	_, free, up, _ := tracker.Snapshot(now).Node("gw-7")
	fmt.Println("free millicores:", free.MilliCPU, "up:", up)

	now = now.Add(16 * time.Second)
	tracker.Check()
	_, _, up, _ = tracker.Snapshot(now).Node("gw-7")
	fmt.Println("up:", up)
	// Output:
	// gw-7 up: true - heartbeat
	// free millicores: 3000 up: true
	// gw-7 up: false - no heartbeat for 15s
	// up: false
}

func TestNodeTrackerChanges(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tr, err := NewNodeTracker(NodeTrackerConfig{Timeout: 3 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	beat := func(change func(*fleet.Heartbeat)) func() {
		return func() {
			seq++
			hb := heartbeat("n1", clock.Now(), seq)
			hb.Free.MilliCPU = int64(seq) // free resources move all the time
			if change != nil {
				change(&hb)
			}
			if err := tr.Observe(hb); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		name   string
		do     func()
		change bool
	}{
		{"first heartbeat", beat(nil), true},
		{"same shape, other free resources", beat(nil), false},
		{"other labels", beat(func(hb *fleet.Heartbeat) { hb.Labels = map[string]string{"zone": "b"} }), true},
		{"other capacity", beat(func(hb *fleet.Heartbeat) {
			hb.Labels = map[string]string{"zone": "b"}
			hb.Capacity.MilliCPU = 2000
		}), true},
		{"silent past the timeout", func() { clock.Advance(4 * time.Second); tr.Check() }, true},
		{"back", beat(func(hb *fleet.Heartbeat) {
			hb.Labels = map[string]string{"zone": "b"}
			hb.Capacity.MilliCPU = 2000
		}), true},
		{"check with nothing silent", func() { tr.Check() }, false},
	}
	for _, st := range steps {
		before := tr.Changes()
		st.do()
		if got := tr.Changes() != before; got != st.change {
			t.Errorf("%s: changed %v, want %v", st.name, got, st.change)
		}
	}
}
