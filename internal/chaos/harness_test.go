package chaos

import (
	"bufio"
	"bytes"

	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

	"github.com/edgeflow/edgeflow/internal/testenv"
)

// Environment variables of the chaos tests.
const (
	envChaos     = "EDGEFLOW_CHAOS"            // 1: run the chaos tests
	envKafkaPort = "EDGEFLOW_CHAOS_KAFKA_PORT" // the chaos broker's client port (default 19093)
	envRate      = "EDGEFLOW_CHAOS_RATE"       // readings/s the producer sends (default 2000)
	envOutage    = "EDGEFLOW_CHAOS_OUTAGE"     // how long the broker-kill test keeps Kafka down (default 30s)
)

// edgeflowBin is the binary built once by TestMain.
var edgeflowBin string

func TestMain(m *testing.M) {
	if os.Getenv(envChaos) != "1" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "edgeflow-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	edgeflowBin = filepath.Join(dir, "edgeflow")
	// chaoshook: the spool honours EDGEFLOW_SPOOL_DELETE_DELAY (edge/spool/deletehook_chaos.go).
	build := exec.Command("go", "build", "-tags", "chaoshook", "-o", edgeflowBin, "./cmd/edgeflow")
	build.Dir = testenv.RepoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: go build ./cmd/edgeflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// settings are the knobs of one chaos run.
type settings struct {
	kafkaPort int
	rate      int // readings/s over all streams
	streams   int
	outage    time.Duration
}

// chaosSettings skips the test unless EDGEFLOW_CHAOS=1 and reads the knobs.
func chaosSettings(t *testing.T) settings {
	t.Helper()
	if os.Getenv(envChaos) != "1" {
		t.Skip("chaos tests run with `make chaos` (EDGEFLOW_CHAOS=1): they kill and restart their own Kafka broker")
	}
	s := settings{kafkaPort: 19093, rate: 2000, streams: 8, outage: 30 * time.Second}
	if v := os.Getenv(envKafkaPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65000 {
			t.Fatalf("$%s=%q: want a port number", envKafkaPort, v)
		}
		s.kafkaPort = p
	}
	if s.kafkaPort == 9092 {
		t.Fatalf("$%s=9092: the chaos tests kill their broker; give them one of their own", envKafkaPort)
	}
	if v := os.Getenv(envRate); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 1 {
			t.Fatalf("$%s=%q: want readings per second", envRate, v)
		}
		s.rate = r
	}
	if v := os.Getenv(envOutage); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("$%s=%q: want a duration like 30s", envOutage, v)
		}
		s.outage = d
	}
	return s
}

// chaosBroker is the tests' own Kafka broker, run by internal/tools/kafka.sh.
// Its ports: client kafkaPort, controller kafkaPort+1, the proxied listener
// kafkaPort+2, advertised as the test proxy's kafkaPort+3.
type chaosBroker struct {
	port int
}

func (b chaosBroker) addr() string        { return "127.0.0.1:" + strconv.Itoa(b.port) }
func (b chaosBroker) proxiedAddr() string { return "127.0.0.1:" + strconv.Itoa(b.port+2) }
func (b chaosBroker) proxyAddr() string   { return "127.0.0.1:" + strconv.Itoa(b.port+3) }

func (b chaosBroker) env() []string {
	return append(os.Environ(),
		"KAFKA_PORT="+strconv.Itoa(b.port),
		"KAFKA_PROXIED_PORT="+strconv.Itoa(b.port+2),
		"KAFKA_PROXIED_ADVERTISED="+b.proxyAddr(),
		"KAFKA_KEEP_DATA=1",
		"KAFKA_HEAP=-Xms128m -Xmx384m",
	)
}

// runDir is kafka.sh's folder of this broker (pid file, data, logs).
func (b chaosBroker) runDir() string {
	cache := os.Getenv("EDGEFLOW_CACHE")
	if cache == "" {
		cache = filepath.Join(testenv.RepoRoot(), ".cache")
	}
	return filepath.Join(cache, "kafka-run-"+strconv.Itoa(b.port))
}

// up starts the broker (keeping its data) unless it runs, and waits until it is ready.
func (b chaosBroker) up(t *testing.T) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(testenv.RepoRoot(), "internal", "tools", "kafka.sh"), "up")
	cmd.Env = b.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chaos broker on %s: kafka.sh up: %v\n%s", b.addr(), err, out)
	}
}

// kill sends SIGKILL to the broker and waits until its port is closed.
func (b chaosBroker) kill(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.runDir(), "kafka.pid"))
	if err != nil {
		t.Fatalf("chaos broker: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		t.Fatalf("chaos broker: pid file holds %q", raw)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("chaos broker: SIGKILL %d: %v", pid, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil && !testenv.Reachable(b.addr()) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("chaos broker: pid %d still alive 20 s after SIGKILL", pid)
}

// freePort returns a TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// edgeNode is one `edgeflow run` process: http source → encode → kafka sink
// (spooled by default) on a data directory that survives its restarts.
type edgeNode struct {
	t        *testing.T
	node     string
	dataDir  string
	pipeline string
	brokers  string
	httpPort int
	logPath  string
	env      []string // added to the process environment

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func newEdgeNode(t *testing.T, node, topic, brokers string) *edgeNode {
	t.Helper()
	dir := t.TempDir()
	e := &edgeNode{t: t, node: node, dataDir: filepath.Join(dir, "data"), brokers: brokers,
		httpPort: freePort(t), logPath: filepath.Join(dir, "edge.log"), pipeline: filepath.Join(dir, "chaos.yaml")}
	yaml := fmt.Sprintf(`name: chaos
sources:
  - type: http
    address: 127.0.0.1:%d
    path: /readings
stages:
  - type: encode
    codec: lz4
    block_size: 1000
    max_age: 100ms
sinks:
  - type: kafka
    topic: %s
    create_topic: true
`, e.httpPort, topic)
	if err := os.WriteFile(e.pipeline, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.kill()
		if t.Failed() {
			if b, err := os.ReadFile(e.logPath); err == nil {
				t.Logf("edge log (tail):\n%s", tail(b, 4000))
			}
		}
	})
	return e
}

func (e *edgeNode) url() string { return fmt.Sprintf("http://127.0.0.1:%d/readings", e.httpPort) }

// start runs the edge process and waits until its HTTP source accepts connections.
func (e *edgeNode) start() {
	t := e.t
	t.Helper()
	logf, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(edgeflowBin, "run", "--node-id", e.node, "--data-dir", e.dataDir,
		"--brokers", e.brokers, "--flush-interval", "100ms", "--log-level", "warn", e.pipeline)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), e.env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("edge %s: %v", e.node, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	e.mu.Lock()
	e.cmd, e.done = cmd, done
	e.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(e.logPath)
			t.Fatalf("edge %s exited at start-up:\n%s", e.node, tail(b, 4000))
		default:
		}
		if testenv.Reachable(fmt.Sprintf("127.0.0.1:%d", e.httpPort)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("edge %s: http source not listening after 30 s", e.node)
}

// pid is the running process's id, or 0.
func (e *edgeNode) pid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil || e.cmd.Process == nil {
		return 0
	}
	select {
	case <-e.done:
		return 0
	default:
	}
	return e.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the process to end.
func (e *edgeNode) kill() { e.signal(syscall.SIGKILL, 10*time.Second) }

// stop sends SIGTERM (edgeflow run drains) and waits up to 30 s.
func (e *edgeNode) stop() { e.signal(syscall.SIGTERM, 30*time.Second) }

func (e *edgeNode) signal(sig syscall.Signal, wait time.Duration) {
	e.mu.Lock()
	cmd, done := e.cmd, e.done
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
}

// rssKB reads the process's resident set (VmRSS) from /proc, 0 when it is not running.
func rssKB(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

// rssSampler records the largest VmRSS of a process while it runs.
type rssSampler struct {
	mu     sync.Mutex
	peakKB int
	stop   chan struct{}
	done   chan struct{}
}

func sampleRSS(pid func() int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := rssKB(pid()); kb > 0 {
				s.mu.Lock()
				s.peakKB = max(s.peakKB, kb)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// finish stops sampling and returns the peak in MiB.
func (s *rssSampler) finish() float64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.peakKB) / 1024
}

// readingID names one reading the producer sent: its stream and its number in
// that stream (also its value).
type readingID struct {
	stream string
	seq    int64
}

// producer posts readings to an edge node's http source at a steady rate, one
// request at a time per stream (so each stream's order is the order of its
// requests), and remembers which readings were acknowledged with a 2xx.
type producer struct {
	url     string
	streams int
	rate    int
	base    time.Time
	client  *http.Client

	mu         sync.Mutex
	sent       int
	acked      map[readingID]time.Time
	failures   int
	maxAckWait time.Duration
	lastErr    string
	ackTimes   []time.Time // one per acknowledged request, for stall checks
}

func newProducer(url string, streams, rate int) *producer {
	return &producer{url: url, streams: streams, rate: rate, base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		client: &http.Client{Timeout: 40 * time.Second}, acked: map[readingID]time.Time{}}
}

// run sends until stop is closed; each stream finishes its request in flight.
func (p *producer) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	perStream := float64(p.rate) / float64(p.streams)
	start := time.Now()
	for s := range p.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stream(fmt.Sprintf("s%02d", s), perStream, start, stop)
		}()
	}
	wg.Wait()
}

func (p *producer) stream(name string, perSecond float64, start time.Time, stop <-chan struct{}) {
	const maxBatch = 5000
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var next int64
	var body []byte
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * perSecond)
		if due <= next {
			continue
		}
		n := min(due-next, maxBatch)
		body = body[:0]
		for i := next; i < next+n; i++ {
			body = fmt.Appendf(body, `{"stream":%q,"ts":%q,"value":%d}`+"\n", name,
				p.base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i)
		}
		sentAt := time.Now()
		ok, errText := p.post(body)
		now := time.Now()
		p.mu.Lock()
		p.sent += int(n)
		if ok {
			for i := next; i < next+n; i++ {
				p.acked[readingID{name, i}] = now
			}
			p.ackTimes = append(p.ackTimes, now)
			p.maxAckWait = max(p.maxAckWait, now.Sub(sentAt))
		} else {
			p.failures++
			p.lastErr = errText
		}
		p.mu.Unlock()
		next += n
		if !ok {
			time.Sleep(100 * time.Millisecond) // the edge is down: do not spin
		}
	}
}

func (p *producer) post(body []byte) (bool, string) {
	resp, err := p.client.Post(p.url, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return false, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return true, ""
}

// ackedBefore returns the readings acknowledged before t (all with a zero t).
func (p *producer) ackedBefore(t time.Time) []readingID {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]readingID, 0, len(p.acked))
	for id, at := range p.acked {
		if t.IsZero() || at.Before(t) {
			out = append(out, id)
		}
	}
	return out
}

// ackedAt is when id was acknowledged (zero if it was not).
func (p *producer) ackedAt(id readingID) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked[id]
}

// acksBetween counts the acknowledged requests in [from, to).
func (p *producer) acksBetween(from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, at := range p.ackTimes {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// received is what the consumer processes printed, across their restarts.
type received struct {
	mu         sync.Mutex
	count      map[readingID]int
	last       map[string]int64 // per stream, the highest first-seen reading
	lines      int
	outOfOrder int
	foreign    int // lines of another node or not a reading of ours
	firstBad   string
}

func newReceived() *received {
	return &received{count: map[readingID]int{}, last: map[string]int64{}}
}

func (r *received) add(node string, line []byte) {
	var v struct {
		Node   string  `json:"node"`
		Stream string  `json:"stream"`
		Value  float64 `json:"value"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines++
	if err := json.Unmarshal(line, &v); err != nil || v.Node != node {
		r.foreign++
		return
	}
	id := readingID{v.Stream, int64(v.Value)}
	r.count[id]++
	if r.count[id] > 1 {
		return
	}
	if last, ok := r.last[id.stream]; ok && id.seq < last {
		r.outOfOrder++
		if r.firstBad == "" {
			r.firstBad = fmt.Sprintf("stream %s: reading %d after %d", id.stream, id.seq, last)
		}
	}
	r.last[id.stream] = max(r.last[id.stream], id.seq)
}

// missing returns how many of ids were not received yet.
func (r *received) missing(ids []readingID) []readingID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []readingID
	for _, id := range ids {
		if r.count[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// waitFor polls until every one of ids was received or timeout passed; it
// returns how long that took and what is still missing.
func (r *received) waitFor(ids []readingID, timeout time.Duration) (time.Duration, []readingID) {
	start := time.Now()
	for {
		miss := r.missing(ids)
		if len(miss) == 0 || time.Since(start) > timeout {
			return time.Since(start), miss
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consumer is one `edgeflow tail` process of a consumer group, feeding received.
type consumer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
}

var duplicatesRE = regexp.MustCompile(`(\d+) duplicates dropped`)

func startConsumer(t *testing.T, brokers, topic, group, node string, into *received) *consumer {
	t.Helper()
	c := &consumer{t: t, done: make(chan struct{})}
	c.cmd = exec.Command(edgeflowBin, "tail", "--brokers", brokers, "--group", group,
		"--from-beginning", "--stats", topic)
	c.cmd.Stderr = &lockedWriter{b: &c.stderr}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("edgeflow tail: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			into.add(node, sc.Bytes())
		}
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.signal(syscall.SIGKILL) })
	return c
}

// exited reports whether the process ended (on its own or killed).
func (c *consumer) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop ends the consumer with SIGINT and returns the frames its dedupe dropped.
func (c *consumer) stop() int {
	c.signal(syscall.SIGINT)
	m := duplicatesRE.FindStringSubmatch(c.stderrText())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// kill ends the consumer with SIGKILL: no stats, no clean leave of the group.
func (c *consumer) kill() { c.signal(syscall.SIGKILL) }

func (c *consumer) signal(sig syscall.Signal) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *consumer) stderrText() string {
	w := c.cmd.Stderr.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return c.stderr.String()
}

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// counts is the table every chaos test prints.
type counts struct {
	sent, acked, received, unique, dupDropped, dupLeft, lost, outOfOrder int
}

func tally(p *producer, r *received, dupDropped int) counts {
	acked := p.ackedBefore(time.Time{})
	miss := r.missing(acked)
	p.mu.Lock()
	sent := p.sent
	p.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	c := counts{sent: sent, acked: len(acked), received: r.lines - r.foreign, unique: len(r.count),
		dupDropped: dupDropped, lost: len(miss), outOfOrder: r.outOfOrder}
	c.dupLeft = c.received - c.unique
	return c
}

func (c counts) String() string {
	return fmt.Sprintf("| sent | acknowledged | received | unique | duplicates dropped (frames) | duplicates left | lost | out of order |\n"+
		"| %d | %d | %d | %d | %d | %d | %d | %d |", c.sent, c.acked, c.received, c.unique, c.dupDropped, c.dupLeft, c.lost, c.outOfOrder)
}

// report prints the counts and fails on loss, on readings out of order and, when
// dupsAllowed is false, on readings printed twice.
func report(t *testing.T, name string, c counts, r *received, missing []readingID, dupsAllowed bool) {
	t.Helper()
	fmt.Printf("chaos %s:\n%s\n", name, c)
	if c.lost > 0 {
		n := min(len(missing), 10)
		t.Errorf("%s: %d acknowledged readings lost, e.g. %v", name, c.lost, missing[:n])
	}
	r.mu.Lock()
	firstBad, foreign := r.firstBad, r.foreign
	r.mu.Unlock()
	if c.outOfOrder > 0 {
		t.Errorf("%s: %d readings out of order per stream; first: %s", name, c.outOfOrder, firstBad)
	}
	if c.dupLeft > 0 && !dupsAllowed {
		t.Errorf("%s: %d readings delivered twice after the consumer's dedupe", name, c.dupLeft)
	}
	if foreign > 0 {
		t.Errorf("%s: %d consumer lines are not readings of the test node", name, foreign)
	}
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// uniqueName is a topic or group name no earlier run used.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}
