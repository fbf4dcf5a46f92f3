package flsystem

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/testenv"
)

// binary is the edgeflow binary TestMain builds.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgeflow-flsystem-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "edgeflow")
	build := exec.Command("go", "build", "-o", binary, "./cmd/edgeflow")
	build.Dir = testenv.RepoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building edgeflow:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is one edgeflow run.
type process struct {
	name   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when the process ended
	err    error         // cmd.Wait's, once done is closed
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs edgeflow run with args and env; stdout goes to out (nil: discarded).
func start(t *testing.T, name string, env []string, out io.Writer, args ...string) *process {
	t.Helper()
	p := &process{name: name, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"run"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = out, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// stop ends p with SIGTERM (SIGKILL after 10 s) unless it ended already.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitLog waits until p's log holds want.
func (p *process) waitLog(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in its log within %v:\n%s", p.name, want, timeout, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// moteFiles writes each TelosB mote's rows of multihop.csv to its own file:
// the data a node holds.
func moteFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(testenv.SharedFile(t, "data/telosb/multihop.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	out := map[string]string{}
	writers := map[string]*csv.Writer{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		mote := rec[col["mote_id"]]
		w := writers[mote]
		if w == nil {
			path := filepath.Join(dir, "mote-"+mote+".csv")
			wf, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { wf.Close() })
			w = csv.NewWriter(wf)
			writers[mote], out[mote] = w, path
			_ = w.Write([]string{"reading", "humidity", "temperature", "label"})
		}
		_ = w.Write([]string{rec[col["reading"]], rec[col["humidity"]], rec[col["temperature"]], rec[col["label"]]})
	}
	for _, w := range writers {
		w.Flush()
		if err := w.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// reportReading is one reading of a round report as the stdout sink prints it.
type reportReading struct {
	Stream string            `json:"stream"`
	Value  json.RawMessage   `json:"value"`
	Labels map[string]string `json:"labels"`
}

// round is one round report.
type round struct {
	id       uint64
	status   string
	values   map[string]float64 // stream suffix after "fl.round."
	weights  map[string]float64 // node → weight
	examples map[string]float64 // node → examples behind its update
}

// readRounds parses the fedavg process's stdout into round reports, sent on
// the channel at each round's last reading (version).
func readRounds(r io.Reader, rounds chan<- *round) {
	defer close(rounds)
	var cur *round
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rr reportReading
		if err := json.Unmarshal(sc.Bytes(), &rr); err != nil || !strings.HasPrefix(rr.Stream, "fl.round.") {
			continue
		}
		id, err := strconv.ParseUint(rr.Labels["round"], 10, 64)
		if err != nil {
			continue
		}
		var v float64
		if err := json.Unmarshal(rr.Value, &v); err != nil {
			continue
		}
		if cur != nil && cur.id != id {
			rounds <- cur
			cur = nil
		}
		if cur == nil {
			cur = &round{id: id, status: rr.Labels["status"], values: map[string]float64{}, weights: map[string]float64{}, examples: map[string]float64{}}
		}
		name := strings.TrimPrefix(rr.Stream, "fl.round.")
		switch name {
		case "weight":
			cur.weights[rr.Labels["node"]] = v
		case "node_examples":
			cur.examples[rr.Labels["node"]] = v
		default:
			cur.values[name] = v
		}
		if name == "version" { // the last reading of a report
			rounds <- cur
			cur = nil
		}
	}
	if cur != nil {
		rounds <- cur
	}
}

func TestFederatedRoundsThroughKafka(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	const (
		rounds       = 8
		roundTimeout = 7 * time.Second
		crashRound   = 3
	)
	dir := t.TempDir()
	motes := moteFiles(t, dir)
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	modelsTopic, updatesTopic, beatsTopic := "edgeflow.fl.models.t"+sfx, "edgeflow.fl.updates.t"+sfx, "edgeflow.heartbeats.t"+sfx

	// Per node: its mote and how long training takes at least. edge-4 is
	// the straggler (longer than a round's deadline); edge-3, killed in
	// round crashRound, trains long enough to be killed mid-round.
	nodes := []struct {
		id, mote string
		minTrain time.Duration
	}{
		{"edge-1", "1", 0},
		{"edge-2", "2", 0},
		{"edge-3", "3", 1500 * time.Millisecond},
		{"edge-4", "4", 12 * time.Second},
	}
	edgePipeline := func(mote string, minTrain time.Duration) string {
		path := filepath.Join(dir, "train-"+mote+".yaml")
		yaml := fmt.Sprintf(`name: fl-train
sources:
  - type: file
    path: %s
    stream: multihop
    rate: 4000
    loop: true
    batch: 200
    csv:
      seq_column: reading
      start: "2026-01-01T00:00:00Z"
      interval: 30s
      label_columns: [label]
stages:
  - type: train
    features: [multihop.humidity, multihop.temperature]
    label: label
    feature_mean: [53, 28]
    feature_scale: [10, 2]
    max_examples: 5000
    min_examples: 50
    learning_rate: 0.1
    epochs: 1
    models_topic: %s
    quantization: float16
    min_train_time: %s
sinks:
  - type: kafka
    topic: %s
`, motes[mote], modelsTopic, minTrain, updatesTopic)
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// edge-1 also runs a detect pipeline following the models topic: it
	// starts on an untrained model file and swaps to every new version.
	initial, err := model.NewMLP(99, 2, 16, 2)
	if err != nil {
		t.Fatal(err)
	}
	tfl, err := model.ExportTFLite(initial, 1)
	if err != nil {
		t.Fatal(err)
	}
	detectPipeline := filepath.Join(dir, "detect.yaml")
	if err := os.WriteFile(filepath.Join(dir, "initial.tflite"), tfl, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(detectPipeline, []byte(fmt.Sprintf(`name: fl-detect
sources:
  - type: file
    path: %s
    stream: multihop
    rate: 20
    loop: true
    batch: 2
    csv:
      seq_column: reading
      start: "2026-01-01T00:00:00Z"
      interval: 30s
      value_columns: [humidity, temperature]
stages:
  - type: detect
    model: %s
    model_topic: %s
    streams: [multihop.humidity, multihop.temperature]
    top_k: 2
sinks:
  - type: stdout
`, motes["1"], filepath.Join(dir, "initial.tflite"), modelsTopic)), 0o644); err != nil {
		t.Fatal(err)
	}
	startEdge := func(i int) *process {
		n := nodes[i]
		files := []string{edgePipeline(n.mote, n.minTrain)}
		if i == 0 {
			files = append(files, detectPipeline)
		}
		return start(t, n.id, []string{
			"EDGEFLOW_NODE_ID=" + n.id, "EDGEFLOW_NODE_LABELS=fltest=" + sfx,
			"EDGEFLOW_BROKERS=" + strings.Join(brokers, ","), "EDGEFLOW_DATA_DIR=" + filepath.Join(dir, n.id),
		}, nil, append([]string{"--heartbeat-interval", "1s", "--heartbeat-topic", beatsTopic, "--log-level", "debug"}, files...)...)
	}
	edges := make([]*process, len(nodes))
	for i := range nodes {
		edges[i] = startEdge(i)
	}
	defer func() {
		for _, p := range edges {
			p.stop()
		}
		if t.Failed() {
			for _, p := range edges {
				t.Logf("%s log (tail):\n%s", p.name, tail(p.stderr.String(), 40))
			}
		}
	}()
	for _, p := range edges {
		p.waitLog(t, "pipeline running", 30*time.Second)
	}

	fedavgPath := filepath.Join(dir, "fedavg.yaml")
	if err := os.WriteFile(fedavgPath, []byte(fmt.Sprintf(`name: fl-fedavg
sources:
  - type: fedavg
    layers: [2, 16, 2]
    rounds: %d
    min_clients: 3
    quorum: 3
    round_timeout: %s
    client_labels: {fltest: %s}
    heartbeat_topic: %s
    node_timeout: 4s
    models_topic: %s
    updates_topic: %s
sinks:
  - type: stdout
`, rounds, roundTimeout, sfx, beatsTopic, modelsTopic, updatesTopic)), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // every node's heartbeat is on the topic
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan *round, rounds+1)
	go readRounds(pr, reports)
	coord := start(t, "fedavg", []string{"EDGEFLOW_NODE_ID=cloud-1", "EDGEFLOW_BROKERS=" + strings.Join(brokers, ",")},
		pw, "--heartbeat-interval", "0", fedavgPath)
	pw.Close() // the child has it: the reader ends when the child does
	defer func() {
		coord.stop()
		if t.Failed() {
			t.Logf("fedavg log (tail):\n%s", tail(coord.stderr.String(), 60))
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	var got []*round
	restarted := false
	for len(got) < rounds {
		var r *round
		select {
		case r = <-reports:
		case <-coord.done:
			t.Fatalf("fedavg ended after %d rounds: %v", len(got), coord.err)
		case <-ctx.Done():
			t.Fatalf("only %d of %d rounds within the time limit", len(got), rounds)
		}
		if r == nil {
			t.Fatalf("fedavg's output ended after %d rounds", len(got))
		}
		got = append(got, r)
		t.Logf("round %d: clients %v selected %v accepted %v late %v stragglers %v used %v eval_loss %.4f train_loss %.4f seconds %.1f weights %v",
			r.id, r.values["clients"], r.values["selected"], r.values["accepted"], r.values["late"], r.values["stragglers"],
			r.values["used"], r.values["eval_loss"], r.values["train_loss"], r.values["seconds"], r.weights)
		switch {
		case r.id == crashRound-1:
			// Round crashRound opens now; edge-3 trains it for 1.5 s: kill it mid-round.
			time.Sleep(500 * time.Millisecond)
			edges[2].kill()
			t.Logf("edge-3 killed (SIGKILL) in round %d", crashRound)
		case r.id == crashRound && !restarted:
			edges[2] = startEdge(2)
			restarted = true
			t.Logf("edge-3 restarted")
		}
	}
	// The coordinator ends by itself after the last round.
	select {
	case <-coord.done:
		if coord.err != nil {
			t.Errorf("fedavg exited with %v", coord.err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("fedavg still running 20 s after its last round")
	}

	lateTotal := 0.0
	edge3Back := false
	for i, r := range got {
		if r.id != uint64(i+1) {
			t.Errorf("report %d is of round %d, want %d: round ids increase by one", i, r.id, i+1)
		}
		if r.status != "" {
			t.Errorf("round %d: status %q, want aggregated", r.id, r.status)
		}
		sel, acc := r.values["selected"], r.values["accepted"]
		if sel < 3 || acc < 1 || acc > sel {
			t.Errorf("round %d: selected %v accepted %v", r.id, sel, acc)
		}
		if r.values["used"] != acc || float64(len(r.weights)) != acc {
			t.Errorf("round %d: used %v, %d weights, accepted %v: want all equal", r.id, r.values["used"], len(r.weights), acc)
		}
		if r.values["stragglers"] != sel-acc {
			t.Errorf("round %d: stragglers %v, want selected - accepted = %v", r.id, r.values["stragglers"], sel-acc)
		}
		var sum float64
		for _, w := range r.weights {
			sum += w
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("round %d: weights %v sum to %v, want 1", r.id, r.weights, sum)
		}
		var examples float64
		for _, n := range r.examples {
			examples += n
		}
		for node, w := range r.weights {
			if want := r.examples[node] / examples; math.Abs(w-want) > 1e-9 {
				t.Errorf("round %d: %s's weight %v, want its examples over all: %v/%v", r.id, node, w, r.examples[node], examples)
			}
		}
		if examples != r.values["examples"] {
			t.Errorf("round %d: nodes' examples sum to %v, the round used %v", r.id, examples, r.values["examples"])
		}
		if _, ok := r.weights["edge-4"]; ok {
			t.Errorf("round %d: the straggler edge-4 (12 s of training, 7 s deadline) was accepted", r.id)
		}
		if r.values["version"] != float64(r.id) {
			t.Errorf("round %d: version %v, want %d (one aggregation a round)", r.id, r.values["version"], r.id)
		}
		lateTotal += r.values["late"]
		if r.id > crashRound {
			if _, ok := r.weights["edge-3"]; ok {
				edge3Back = true
			}
		}
	}
	crash := got[crashRound-1]
	if _, ok := crash.weights["edge-3"]; ok {
		t.Errorf("round %d: edge-3 was killed mid-round but its update was accepted", crashRound)
	}
	if crash.values["accepted"] >= 3 || crash.values["seconds"] < roundTimeout.Seconds()-0.5 {
		t.Errorf("round %d: accepted %v in %v s: want fewer than the quorum, closed by the %v deadline",
			crashRound, crash.values["accepted"], crash.values["seconds"], roundTimeout)
	}
	// edge-1's detect stage runs the final model (version rounds).
	final := regexp.MustCompile(fmt.Sprintf(`msg="swapped to the global model".* version=%d `, rounds))
	for deadline := time.Now().Add(15 * time.Second); !final.MatchString(edges[0].stderr.String()); {
		if time.Now().After(deadline) {
			t.Errorf("edge-1's detect stage did not swap to version %d of the global model", rounds)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !edge3Back {
		t.Errorf("edge-3 restarted but took part in no round after round %d", crashRound)
	}
	if lateTotal < 1 {
		t.Errorf("no late update counted: the straggler's updates should arrive after their rounds closed")
	}
	first, last := got[0].values["eval_loss"], got[len(got)-1].values["eval_loss"]
	if !(last < first*0.5) {
		t.Errorf("eval_loss of the global model on the nodes' data: round 1 %.4f, round %d %.4f: want at least halved", first, len(got), last)
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}
