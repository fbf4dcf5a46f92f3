package failover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

var edgeflowBin string

// TestMain builds the edgeflow binary once for the processes of the test.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgeflow-failover-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
	edgeflowBin = filepath.Join(dir, "edgeflow")
	build := exec.Command("go", "build", "-o", edgeflowBin, "./cmd/edgeflow")
	build.Dir = testenv.RepoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "failover: go build ./cmd/edgeflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const (
	heartbeatInterval = 500 * time.Millisecond
	nodeTimeout       = 2 * time.Second
	failoverBudget    = nodeTimeout + 5*time.Second
)

// relayPipeline is the pipeline every task runs: the readings of one Kafka
// topic, in the consumer group edgeflow.<task id>, to the shared output topic.
// Without a spool the kafka sink's write returns once the broker has the
// record, and only then is the input record acknowledged and its offset
// committed: the node keeps nothing the others cannot take over.
//
// The consumer-group settings are those for fast failover
// (docs/scheduling.md#failover): once the node taking over joined the group,
// the killed node's member holds the partition only until the group's
// rebalance timeout (2 s) passes, not until its session (10 s) times out.
const relayPipeline = `sources:
  - type: kafka
    topic: ${in}
    start: oldest
    heartbeat_interval: 500ms
    rebalance_timeout: 2s
sinks:
  - type: kafka
    topic: ${out}
    spool: false
`

// process is one edgeflow process of the test with its log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, dir, name string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(edgeflowBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop) // a failed run's report (journal_test.go) shows the log
	return p
}

// stop sends SIGTERM and waits up to 15 s, then kills.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// producer writes numbered readings to the input topic of each task; a reading
// is acknowledged when the broker acknowledged its write (acks=all).
type producer struct {
	mu    sync.Mutex
	acked map[string][]ackedReading // task → readings in order
}

type ackedReading struct {
	payload string
	sent    time.Time // when the producer began writing it
	at      time.Time // when the broker's acknowledgement came back
}

func (p *producer) run(ctx context.Context, j *journal, pub *kafkabus.Publisher, topics map[string]string, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	seq := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		seq++
		for _, task := range slices.Sorted(mapsKeys(topics)) {
			payload := fmt.Sprintf("%s#%06d", task, seq)
			msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
			sent := time.Now()
			if err := pub.PublishContext(ctx, topics[task], msg); err != nil {
				if ctx.Err() == nil {
					j.add("producer", "%s: %v (not acknowledged)", payload, err)
				}
				continue
			}
			if d := time.Since(sent); d > time.Second {
				j.add("producer", "%s acknowledged %.2f s after it was sent (a slow broker)", payload, d.Seconds())
			}
			p.mu.Lock()
			p.acked[task] = append(p.acked[task], ackedReading{payload, sent, time.Now()})
			p.mu.Unlock()
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ackedBefore lists every reading acknowledged before at (zero: all).
func (p *producer) ackedBefore(at time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, rs := range p.acked {
		for _, r := range rs {
			if at.IsZero() || r.at.Before(at) {
				out = append(out, r.payload)
			}
		}
	}
	return out
}

// received is what reached the output topic: first arrival per payload.
type received struct {
	mu    sync.Mutex
	first map[string]time.Time
	total int
}

func (r *received) add(payload string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if _, ok := r.first[payload]; !ok {
		r.first[payload] = time.Now()
	}
}

func (r *received) missing(want []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range want {
		if _, ok := r.first[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// firstAfter is when the first reading of task written after at arrived:
// one the producer began to write after at, which only a relay running after
// at can have passed on. (Acknowledged after at is not enough: a reading
// written and relayed just before the kill may have its acknowledgement
// counted after it, and arrive at the test's consumer a moment later.)
func (r *received) firstAfter(task string, at time.Time, prod *producer) (time.Time, bool) {
	prod.mu.Lock()
	rs := slices.Clone(prod.acked[task])
	prod.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	var best time.Time
	for _, a := range rs {
		if a.sent.Before(at) {
			continue
		}
		if got, ok := r.first[a.payload]; ok && (best.IsZero() || got.Before(best)) {
			best = got
		}
	}
	return best, !best.IsZero()
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestFailover runs three edge nodes following their assignments, the
// scheduler and a producer against the real Kafka broker, SIGKILLs the node
// running the first task and checks that its tasks run on another node, and
// readings written after the kill come through again, within the heartbeat
// timeout plus 5 s, and that no reading acknowledged before the kill is lost.
func TestFailover(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	broker := strings.Join(brokers, ",")
	run := fmt.Sprintf("fo%d", time.Now().UnixNano()%1e9)
	dir := t.TempDir()
	pipelinesDir := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipelinesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pipelinesDir, "relay.yaml"), []byte(relayPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	topic := func(name string) string { return "edgeflow.test." + run + "." + name }
	tasksTopic, assignTopic, hbTopic, outTopic, statusTopic := topic("tasks"), topic("assignments"), topic("heartbeats"), topic("out"), topic("status")
	taskIDs := []string{run + "-a", run + "-b", run + "-c"}
	inTopics := map[string]string{}
	var taskFile strings.Builder
	taskFile.WriteString("tasks:\n")
	for i, id := range taskIDs {
		inTopics[id] = topic("in." + id)
		pipeline := "pipeline: relay" // a file in --pipelines-dir; the last task carries it instead
		if i == len(taskIDs)-1 {
			pipeline = "pipeline_yaml: |\n      " + strings.ReplaceAll(strings.TrimSpace(relayPipeline), "\n", "\n      ")
		}
		fmt.Fprintf(&taskFile, "  - id: %s\n    %s\n    params: {in: %s, out: %s}\n    group: relay\n    resources: {cpu: 100m, memory: 16Mi}\n",
			id, pipeline, inTopics[id], outTopic)
	}
	// One task no node can take: it waits, and edgeflow tasks list says why.
	fmt.Fprintf(&taskFile, "  - id: %s-huge\n    pipeline: relay\n    params: {in: %s, out: %s}\n    resources: {cpu: \"100000\"}\n",
		run, inTopics[taskIDs[0]], outTopic)
	taskPath := filepath.Join(dir, "tasks.yaml")
	if err := os.WriteFile(taskPath, []byte(taskFile.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The input topics exist and hold readings before any node starts.
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, WriteTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	j := newJournal()
	prod := &producer{acked: map[string][]ackedReading{}}
	prodCtx, stopProducing := context.WithCancel(ctx)
	produced := make(chan struct{})
	go func() { defer close(produced); prod.run(prodCtx, j, pub, inTopics, 20*time.Millisecond) }()
	defer func() { stopProducing(); <-produced }()

	// The test reads the output topic and the heartbeats.
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, Start: kafkabus.StartOldest, MaxWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := &received{first: map[string]time.Time{}}
	outMsgs, err := sub.Subscribe(ctx, outTopic)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for m := range outMsgs {
			got.add(string(m.Payload))
			m.Ack()
		}
	}()
	tracker, err := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: nodeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = tracker.Run(ctx, sub, hbTopic) }()
	go watchHeartbeats(ctx, j, tracker, heartbeatInterval)

	// Registered before the processes start, the report runs after they
	// stopped (cleanups run last first): their logs are complete.
	var procs []*process
	t.Cleanup(func() {
		if t.Failed() {
			j.report(t, procs, prod, got)
		}
	})
	nodes := map[string]*process{}
	for i, zone := range []string{"a", "b", "c"} {
		id := fmt.Sprintf("%s-n%d", run, i+1)
		nodes[id] = start(t, dir, id, "run", "--node-id", id, "--labels", "zone="+zone, "--brokers", broker,
			"--data-dir", filepath.Join(dir, id), "--assignments", "--pipelines-dir", pipelinesDir,
			"--assignment-topic", assignTopic, "--heartbeat-interval", heartbeatInterval.String(), "--heartbeat-topic", hbTopic,
			"--drain-timeout", "5s")
		procs = append(procs, nodes[id])
	}
	waitUntil(t, 30*time.Second, "three nodes up", func() bool {
		up := 0
		for _, v := range tracker.Nodes(time.Now()) {
			if v.Up {
				up++
			}
		}
		return up == 3
	})
	j.add("test", "three nodes up; starting the scheduler, submitting the tasks")
	scheduler := start(t, dir, "scheduler", "schedule", "--brokers", broker, "--algorithm", "balanced", "--timeout", nodeTimeout.String(),
		"--settle", "1s", "--interval", "250ms", "--task-topic", tasksTopic, "--heartbeat-topic", hbTopic, "--assignment-topic", assignTopic,
		"--status-topic", statusTopic)
	procs = append(procs, scheduler)
	submit := exec.Command(edgeflowBin, "tasks", "submit", "--brokers", broker, "--task-topic", tasksTopic, taskPath)
	if out, err := submit.CombinedOutput(); err != nil {
		t.Fatalf("edgeflow tasks submit: %v\n%s", err, out)
	}

	// runningOn maps each task to the up nodes whose heartbeats list it.
	runningOn := func() map[string][]string {
		out := map[string][]string{}
		for _, v := range tracker.Nodes(time.Now()) {
			if !v.Up {
				continue
			}
			for _, p := range v.Heartbeat.Pipelines {
				out[p] = append(out[p], v.Heartbeat.NodeID)
			}
		}
		return out
	}
	took := waitUntil(t, 45*time.Second, "every task running on one node", func() bool {
		r := runningOn()
		for _, id := range taskIDs {
			if len(r[id]) != 1 {
				return false
			}
		}
		return true
	})
	placed := runningOn()
	j.add("test", "every task running on one node: %v", placed)
	fmt.Printf("failover: 3 tasks running after %.1f s: %v\n", took.Seconds(), placed)
	waitUntil(t, 30*time.Second, "readings of every task through", func() bool {
		for _, id := range taskIDs {
			if _, ok := got.firstAfter(id, time.Time{}, prod); !ok {
				return false
			}
		}
		return true
	})
	j.add("test", "readings of every task through")
	// The scheduler writes the status (the tasks that wait, and why) after
	// the assignments, so the first list may come before it: list again
	// until the waiting task shows, for at most 20 s.
	var listed []byte
	hugeRow, lists := "", 0
	for listStart := time.Now(); time.Since(listStart) < 20*time.Second; time.Sleep(500 * time.Millisecond) {
		list := exec.Command(edgeflowBin, "tasks", "list", "--brokers", broker, "--task-topic", tasksTopic,
			"--assignment-topic", assignTopic, "--status-topic", statusTopic, "--wait", "20s")
		began := time.Now()
		listed, err = list.CombinedOutput()
		lists++
		if err != nil {
			t.Fatalf("edgeflow tasks list: %v\n%s", err, listed)
		}
		j.add("test", "edgeflow tasks list took %.2f s", time.Since(began).Seconds())
		for _, line := range strings.Split(string(listed), "\n") {
			if strings.HasPrefix(line, run+"-huge ") {
				hugeRow = line
			}
		}
		if strings.Contains(hugeRow, "pending") && strings.Contains(hugeRow, "0/3 nodes can take it: 3 insufficient cpu") {
			break
		}
	}
	if !strings.Contains(hugeRow, "pending") || !strings.Contains(hugeRow, "0/3 nodes can take it: 3 insufficient cpu") {
		t.Errorf("edgeflow tasks list (run %d times in 20 s) shows the task that fits nowhere as %q, want pending, 0/3 nodes can take it: 3 insufficient cpu", lists, hugeRow)
	}
	fmt.Printf("failover: edgeflow tasks list (%d run(s)):\n%s", lists, listed)

	victimTask := taskIDs[0]
	victim := placed[victimTask][0]
	var moved []string
	for task, ns := range placed {
		if ns[0] == victim {
			moved = append(moved, task)
		}
	}
	slices.Sort(moved)
	killedAt := time.Now()
	j.killed(killedAt)
	j.add("test", "SIGKILL %s (running %v)", victim, moved)
	nodes[victim].kill()
	ackedBeforeKill := prod.ackedBefore(killedAt)

	failover := waitUntil(t, failoverBudget+20*time.Second, "the killed node's tasks running elsewhere", func() bool {
		r := runningOn()
		for _, task := range moved {
			if len(r[task]) != 1 || r[task][0] == victim {
				return false
			}
		}
		return true
	})
	after := runningOn()
	j.add("test", "the killed node's tasks run elsewhere: %v", after)
	var flowAfter time.Duration
	waitUntil(t, 60*time.Second, "readings of the moved tasks through again", func() bool {
		var latest time.Time
		for _, task := range moved {
			at, ok := got.firstAfter(task, killedAt, prod)
			if !ok {
				return false
			}
			if at.After(latest) {
				latest = at
			}
		}
		flowAfter = latest.Sub(killedAt)
		return true
	})
	j.add("test", "a reading of every moved task written after the kill delivered (the last of them %.2f s after the kill)", flowAfter.Seconds())
	time.Sleep(2 * time.Second)
	stopProducing()
	<-produced
	all := prod.ackedBefore(time.Time{})
	waitUntil(t, 30*time.Second, "every acknowledged reading delivered", func() bool { return len(got.missing(all)) == 0 })
	lostBeforeKill := got.missing(ackedBeforeKill)
	got.mu.Lock()
	dups := got.total - len(got.first)
	got.mu.Unlock()

	newNodes := map[string]string{}
	for _, task := range moved {
		newNodes[task] = after[task][0]
	}
	fmt.Printf("failover: SIGKILL %s (running %v); running again on %v after %.2f s (heartbeat timeout %s, budget %s); "+
		"first reading written after the kill delivered after %.2f s\n",
		victim, moved, newNodes, failover.Seconds(), nodeTimeout, failoverBudget, flowAfter.Seconds())
	for _, task := range moved {
		fmt.Printf("failover: %s on %s, after the kill: %s\n", task, newNodes[task], timeline(nodes[newNodes[task]].log, task, killedAt))
	}
	fmt.Printf("failover: %d readings acknowledged before the kill, %d lost; %d acknowledged in all, all delivered; %d delivered twice (at least once)\n",
		len(ackedBeforeKill), len(lostBeforeKill), len(all), dups)
	if failover > failoverBudget {
		t.Errorf("tasks of the killed node ran elsewhere after %s, want within %s", failover.Round(time.Millisecond), failoverBudget)
	}
	if flowAfter > failoverBudget {
		t.Errorf("the first reading written after the kill was delivered after %s, want within %s", flowAfter.Round(time.Millisecond), failoverBudget)
	}
	if len(lostBeforeKill) > 0 {
		t.Errorf("%d readings acknowledged before the kill lost, e.g. %v", len(lostBeforeKill), lostBeforeKill[:min(5, len(lostBeforeKill))])
	}
	// The killed node comes back on its data dir: it reads its latest
	// assignment (empty) and runs nothing, not even the tasks of its older
	// assignments for a moment; the moved tasks stay where they are.
	j.add("test", "restarting %s on its data dir", victim)
	restarted := start(t, dir, victim+"-restarted", "run", "--node-id", victim, "--labels", "zone=a", "--brokers", broker,
		"--data-dir", filepath.Join(dir, victim), "--assignments", "--pipelines-dir", pipelinesDir,
		"--assignment-topic", assignTopic, "--heartbeat-interval", heartbeatInterval.String(), "--heartbeat-topic", hbTopic,
		"--drain-timeout", "5s")
	procs = append(procs, restarted)
	waitUntil(t, 20*time.Second, "the restarted node up", func() bool {
		for _, v := range tracker.Nodes(time.Now()) {
			if v.Heartbeat.NodeID == victim && v.Up {
				return true
			}
		}
		return false
	})
	time.Sleep(3 * heartbeatInterval)
	for task, ns := range runningOn() {
		if len(ns) != 1 || (slices.Contains(moved, task) && ns[0] != newNodes[task]) {
			t.Errorf("after %s restarted, task %s runs on %v; want it left on %s", victim, task, ns, newNodes[task])
		}
	}
	// Not even for a moment: the older assignments the topic still holds (the
	// one with the moved tasks) are not applied on the way to the latest.
	if data, err := os.ReadFile(restarted.log); err != nil {
		t.Error(err)
	} else if strings.Contains(string(data), `msg="task started"`) {
		t.Errorf("restarted %s started a task; want it to go straight to its latest assignment (empty)", victim)
	}
	// Every node drains cleanly.
	restarted.stop()
	for id, p := range nodes {
		if id != victim {
			p.stop()
		}
	}
}

// takeoverSteps are the log lines of the node taking a task over, in order:
// it reads its new assignment, starts the task, its kafka source joins the
// task's consumer group, gets the partitions and fetches its first record.
var takeoverSteps = []struct{ name, msg string }{
	{"assignment", `msg=assignment `},
	{"task started", `msg="task started"`},
	{"joined group", `msg="kafka reader: Joined group`},
	{"partitions", `msg="kafka reader: subscribed to topics and partitions`},
	{"first record", `msg="first kafka record fetched"`},
}

// timeline reports when each of takeoverSteps for task appears in the node's
// log (text format, time=RFC 3339) after killedAt, in seconds after it.
func timeline(logPath, task string, killedAt time.Time) string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, step := range takeoverSteps {
		at := "—"
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, step.msg) || !strings.Contains(line, task) {
				continue
			}
			ts, ok := strings.CutPrefix(line, "time=")
			if !ok {
				continue
			}
			ts, _, _ = strings.Cut(ts, " ")
			when, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil || when.Before(killedAt) {
				continue
			}
			at = fmt.Sprintf("%.2f s", when.Sub(killedAt).Seconds())
			break
		}
		out = append(out, step.name+" "+at)
	}
	return strings.Join(out, ", ")
}
