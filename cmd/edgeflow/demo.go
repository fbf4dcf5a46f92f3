package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/pipelines/examples"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/all"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

const demoUsage = `Usage: edgeflow demo [flags]

Runs the whole of edgeflow in one process, with no external services: an
in-process Kafka-protocol broker, three simulated edge nodes (node-1, node-2,
node-3, each with its own random seed and labels) running the demo pipeline
(generate → encode → kafka), and a cloud consumer reading the topic back.

It prints a progress line every second, then stops the nodes (they flush what
they buffer), lets the consumer catch up, and prints a summary per node:
readings generated, published in frames and consumed, bytes raw (16 per
reading: 8-byte timestamp + 8-byte float64) against bytes on the wire (frame
payloads), compression ratio, duplicates dropped, and the group's lag. It exits
1 if a published reading was not consumed exactly once.

Every reading is traced (OpenTelemetry): each node's spans carry its node id
(service.name edgeflow-edge), the consumer's are edgeflow-cloud, and the summary
prints the trace id of node-1's first reading that reached the consumer. With
--otlp ENDPOINT the traces are exported there (e.g. to Jaeger), with
--trace-sample RATIO only that share of them.

With --metrics-addr HOST:PORT it serves Prometheus metrics of every node
(label node) and of the consumer on /metrics, with /healthz and /readyz
(every node's pipeline running, the broker reachable, the consumer group
joined); see docs/observability.md.

While it runs the broker answers on --listen, so any Kafka client can read the
topic, e.g. in another terminal:
  edgeflow tail --brokers 127.0.0.1:9092 --from-beginning edgeflow.frames
  kcat -b 127.0.0.1:9092 -C -t edgeflow.frames -f '%k %h %S bytes\n'

Examples:
  edgeflow demo
  edgeflow demo --duration 1m --speedup 600
  edgeflow demo --listen 127.0.0.1:19092 --pipeline my-demo.yaml
  edgeflow demo --otlp 127.0.0.1:4317      # then look the printed trace id up in Jaeger
  edgeflow demo --metrics-addr 127.0.0.1:9464 --duration 5m   # and scrape /metrics meanwhile`

func init() {
	register(command{
		name:    "demo",
		summary: "run edge nodes, an in-process Kafka broker and a cloud consumer together",
		usage:   demoUsage,
		run:     runDemo,
	})
}

type demoOptions struct {
	duration   time.Duration
	listen     string
	pipeline   string
	nodes      int
	speedup    float64
	partitions int
	verbose    bool
	tracing    telemetry.TracingSettings
	metrics    string // address of /metrics, /healthz, /readyz; "" is off
}

// demoNodeLabels are the labels of the simulated nodes, in turn.
var demoNodeLabels = []map[string]string{
	{"site": "plant-a", "room": "boiler"},
	{"site": "plant-a", "room": "assembly"},
	{"site": "plant-b", "room": "storage"},
}

func runDemo(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet(commands["demo"], io.err)
	var o demoOptions
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long the nodes generate data before draining")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9092", "`host:port` the in-process broker listens on (port 0: any free port)")
	fs.StringVar(&o.pipeline, "pipeline", "", "pipeline `FILE` each node runs; it must encode frames and publish them with a kafka sink (default: the built-in pipelines/examples/demo.yaml)")
	fs.IntVar(&o.nodes, "nodes", 3, "number of simulated edge nodes")
	fs.Float64Var(&o.speedup, "speedup", 0, "override the generator's speedup (simulated seconds per second); 0 keeps the pipeline's")
	fs.IntVar(&o.partitions, "partitions", 3, "partitions of the topic")
	fs.BoolVar(&o.verbose, "v", false, "log what the nodes and the consumer do on standard error")
	fs.StringVar(&o.metrics, "metrics-addr", "", metricsAddrUsage)
	tracingFlags := bindTracingFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.tracing, err = resolveTracing(telemetry.Config{}, os.LookupEnv, tracingFlags); err != nil {
		return err
	}
	if o.metrics, err = telemetry.ResolveMetricsAddr(telemetry.MetricsConfig{}, os.LookupEnv, o.metrics); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 0 || o.duration <= 0 || o.nodes < 1 || o.partitions < 1 || o.speedup < 0 {
		return errUsage
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level}))
	d := &demo{opts: o, out: io.out, log: log}
	return d.run(ctx)
}

// demo is one run of edgeflow demo.
type demo struct {
	opts  demoOptions
	out   io.Writer
	log   *slog.Logger
	name  string // pipeline file name, for messages
	data  []byte // pipeline file
	topic string
	nodes []*demoNode
	cons  *cloud.Consumer
	ep    *endpoints // nil without --metrics-addr
	// sampleTrace is the trace id of the first reading of the first node that
	// reached the consumer (a trace.TraceID, set once).
	sampleTrace atomic.Pointer[trace.TraceID]
}

// demoNode is one simulated edge node and what its pipeline produced.
type demoNode struct {
	node    stages.Node
	tracing *telemetry.Tracing // its own provider: the resource names the node
	runner  *pipelines.Runner
	count   demoCounts
	err     error
}

// demoCounts are counted by a stage middleware inside the node's pipeline.
type demoCounts struct {
	generated atomic.Uint64 // readings into the first processor, acknowledged
	published atomic.Uint64 // readings in frames out of the encoder
	frames    atomic.Uint64
	wire      atomic.Uint64 // bytes of those frames
}

func (d *demo) run(ctx context.Context) error {
	if err := d.loadPipeline(); err != nil {
		return err
	}
	cluster, addr, err := d.startBroker()
	if err != nil {
		return err
	}
	defer cluster.Close()
	fmt.Fprintf(d.out, "edgeflow demo: Kafka-protocol broker on %s, topic %s (%d partitions); %d nodes run %s for %s\n",
		addr, d.topic, d.opts.partitions, d.opts.nodes, d.name, d.opts.duration)
	fmt.Fprintf(d.out, "  read it meanwhile: edgeflow tail --brokers %s --from-beginning %s\n", addr, d.topic)
	d.ep, err = startEndpoints(ctx, d.opts.metrics, telemetry.Config{}, telemetry.Process{Role: telemetry.RoleEdge, Version: version}, d.log)
	if err != nil {
		return err
	}
	defer func() {
		if err := d.ep.stop(); err != nil {
			d.log.Warn("stopping the metrics endpoints", "error", err)
		}
	}()
	if d.ep != nil {
		fmt.Fprintf(d.out, "  metrics: http://%s/metrics (health: /healthz, /readyz)\n", d.ep.server.Addr())
	}

	// Build everything before anything runs, so a bad pipeline fails fast.
	for i := 0; i < d.opts.nodes; i++ {
		n, err := d.buildNode(ctx, i, addr)
		if err != nil {
			d.closeNodes()
			return err
		}
		d.nodes = append(d.nodes, n)
		fmt.Fprintf(d.out, "  %s  labels %s\n", n.node.ID, edge.FormatLabels(n.node.Labels))
	}
	defer d.stopNodeTracing()
	cloudTracing, err := startTracing(ctx, d.opts.tracing, telemetry.Config{},
		telemetry.Process{Role: telemetry.RoleCloud, Version: version}, d.log, telemetry.WithRecording())
	if err != nil {
		d.closeNodes()
		return err
	}
	defer stopTracing(cloudTracing, d.log)
	d.cons, err = cloud.NewConsumer(cloud.ConsumerConfig{
		Brokers: []string{addr}, Topic: d.topic, Group: "edgeflow-demo", Start: cloud.StartEarliest,
		LagInterval: 500 * time.Millisecond, Logger: d.log.With("component", "cloud"),
		TracerProvider: cloudTracing.TracerProvider(),
	})
	if err != nil {
		d.closeNodes()
		return err
	}
	defer d.cons.Close()
	if d.ep != nil {
		if err := d.ep.register(d.cons.RegisterMetrics(d.ep.meterProvider())); err != nil {
			d.closeNodes()
			return err
		}
		d.ep.addCheck("pipelines", d.nodesRunning)
		d.ep.addKafkaCheck([]string{addr})
		d.ep.addCheck("consumer", telemetry.CachedCheck(consumerCheckTTL, d.cons.Ready))
		d.ep.serve()
	}

	consCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumer()
	consDone := make(chan error, 1)
	go func() {
		consDone <- d.cons.Run(consCtx, func(ctx context.Context, b cloud.Batch) error {
			if b.Node == d.nodes[0].node.ID && d.sampleTrace.Load() == nil {
				if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
					id := sc.TraceID()
					d.sampleTrace.CompareAndSwap(nil, &id)
				}
			}
			return nil
		})
	}()

	start := time.Now()
	nodeCtx, stopNodes := context.WithTimeout(ctx, d.opts.duration)
	defer stopNodes()
	var wg sync.WaitGroup
	for _, n := range d.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.err = n.runner.Run(nodeCtx)
		}()
	}
	nodesDone := make(chan struct{})
	go func() { wg.Wait(); close(nodesDone) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	phase := "running"
	caughtUp := make(<-chan time.Time)
	var deadline <-chan time.Time
	var failure error
loop:
	for {
		select {
		case <-tick.C:
			d.progress(time.Since(start), phase)
		case <-nodesDone:
			nodesDone = nil
			phase = "draining"
			// Nodes flushed and stopped; give the consumer time to catch up.
			deadline = time.After(30 * time.Second)
			c := time.NewTicker(100 * time.Millisecond)
			defer c.Stop()
			caughtUp = c.C
		case <-caughtUp:
			if d.caughtUp(ctx) {
				break loop
			}
		case <-deadline:
			failure = errors.New("the consumer did not catch up within 30s after the nodes stopped")
			break loop
		case err := <-consDone:
			consDone = nil
			failure = fmt.Errorf("cloud consumer stopped: %w", err)
			stopNodes()
			<-waitChan(&wg)
			break loop
		}
	}
	stopConsumer()
	if consDone != nil {
		if err := <-consDone; err != nil && !errors.Is(err, context.Canceled) {
			failure = errors.Join(failure, fmt.Errorf("cloud consumer: %w", err))
		}
	}
	d.progress(time.Since(start), "done")
	fmt.Fprintln(d.out)
	ok := d.summary()
	var errs []error
	for _, n := range d.nodes {
		if n.err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.node.ID, n.err))
		}
	}
	if failure != nil {
		errs = append(errs, failure)
	}
	if !ok {
		errs = append(errs, errors.New("consumed readings differ from published ones, or duplicates got through"))
	}
	if ctx.Err() != nil && len(errs) == 0 {
		return nil // interrupted: the summary is of what ran
	}
	return errors.Join(errs...)
}

func waitChan(wg *sync.WaitGroup) <-chan struct{} {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

// loadPipeline reads the pipeline file once to learn its topic; each node then
// loads its own copy (its configs are adjusted per node).
func (d *demo) loadPipeline() error {
	d.name, d.data = "pipelines/examples/demo.yaml (built in)", examples.Demo
	if d.opts.pipeline != "" {
		data, err := os.ReadFile(d.opts.pipeline)
		if err != nil {
			return err
		}
		d.name, d.data = d.opts.pipeline, data
	}
	p, err := pipelines.Load(d.name, d.data)
	if err != nil {
		return err
	}
	for _, s := range p.Sinks {
		if s.Reg.ID == "kafka" {
			if t, ok := configField(s.Config, "topic"); ok && t.Kind() == reflect.String && t.String() != "" {
				if d.topic != "" && d.topic != t.String() {
					return fmt.Errorf("%s: the demo reads one topic, the pipeline writes to %q and %q", d.name, d.topic, t.String())
				}
				d.topic = t.String()
			}
		}
	}
	if d.topic == "" {
		return fmt.Errorf("%s: the demo needs a kafka sink with a topic", d.name)
	}
	return nil
}

// startBroker starts the in-process broker on --listen with the topic created.
func (d *demo) startBroker() (*kfake.Cluster, string, error) {
	host, port, err := net.SplitHostPort(d.opts.listen)
	if err != nil {
		return nil, "", fmt.Errorf("--listen %q: %w", d.opts.listen, err)
	}
	var portNum int
	if _, err := fmt.Sscan(port, &portNum); err != nil || portNum < 0 || portNum > 65535 {
		return nil, "", fmt.Errorf("--listen %q: bad port", d.opts.listen)
	}
	listen := net.JoinHostPort(host, port)
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(portNum),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, listen) }),
		kfake.SeedTopics(int32(d.opts.partitions), d.topic),
	)
	if err != nil {
		return nil, "", fmt.Errorf("start the in-process broker on %s: %w (is a Kafka broker already running there? pick another address with --listen)", listen, err)
	}
	return cluster, cluster.ListenAddrs()[0], nil
}

// buildNode loads and builds the pipeline for node i, with its own seed.
func (d *demo) buildNode(ctx context.Context, i int, broker string) (*demoNode, error) {
	n := &demoNode{node: stages.Node{
		ID:      fmt.Sprintf("node-%d", i+1),
		Labels:  demoNodeLabels[i%len(demoNodeLabels)],
		Brokers: []string{broker},
	}}
	p, err := pipelines.Load(d.name, d.data)
	if err != nil {
		return nil, err
	}
	for _, s := range p.Sources {
		if v, ok := configField(s.Config, "seed"); ok && v.CanInt() && v.CanSet() {
			v.SetInt(int64(1000*(i+1)) + v.Int())
		}
		if v, ok := configField(s.Config, "speedup"); ok && v.CanFloat() && v.CanSet() && d.opts.speedup > 0 {
			v.SetFloat(d.opts.speedup)
		}
	}
	first := ""
	if len(p.Stages) > 0 {
		first = p.Stages[0].Path
	}
	res, err := telemetry.NewResource(ctx, telemetry.Config{}, telemetry.Process{Role: telemetry.RoleEdge, NodeID: n.node.ID, Version: version})
	if err != nil {
		return nil, err
	}
	if n.tracing, err = telemetry.NewTracing(ctx, d.opts.tracing, res, telemetry.WithRecording()); err != nil {
		return nil, err
	}
	metricOpts, observe, err := d.ep.pipelineMetrics(n.node.ID)
	if err != nil {
		return nil, err
	}
	env := stages.Env{Node: n.node, Pipeline: p.Name, Logger: d.log.With("node", n.node.ID)}
	n.runner, err = p.Build(ctx, env, append([]pipelines.RunnerOption{pipelines.WithTracing(n.tracing.TracerProvider()), pipelines.WithStageMiddleware(func(step pipelines.Step, next stages.Processor) stages.Processor {
		cp := &demoCountingProcessor{counts: &n.count, first: step.Path == first, next: next}
		if f, ok := next.(stages.Flusher); ok {
			return &demoCountingFlusher{demoCountingProcessor: cp, flusher: f}
		}
		return cp
	})}, metricOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.node.ID, err)
	}
	if err := observe(func() []pipelines.Stats { return []pipelines.Stats{n.runner.Stats()} }); err != nil {
		_ = n.runner.Close()
		return nil, err
	}
	return n, nil
}

// nodesRunning is the readiness check of the nodes: every pipeline runs.
func (d *demo) nodesRunning(context.Context) error {
	var errs []error
	for _, n := range d.nodes {
		if s := n.runner.State(); s != pipelines.StateRunning {
			errs = append(errs, fmt.Errorf("node %s: pipeline %q is %s", n.node.ID, n.runner.Name(), s))
		}
	}
	return errors.Join(errs...)
}

func (d *demo) closeNodes() {
	for _, n := range d.nodes {
		_ = n.runner.Close()
	}
}

// stopNodeTracing exports what the nodes' tracer providers still buffer.
func (d *demo) stopNodeTracing() {
	for _, n := range d.nodes {
		stopTracing(n.tracing, d.log)
	}
}

// configField finds the settable field of a stage config whose yaml name is name.
func configField(cfg stages.Config, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name && t.Field(i).IsExported() {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// caughtUp reports whether the consumer has every published reading and the
// group has committed everything.
func (d *demo) caughtUp(ctx context.Context) bool {
	var published uint64
	for _, n := range d.nodes {
		published += n.count.published.Load()
	}
	if d.cons.Stats().Readings < published {
		return false
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	lag, err := d.cons.Lag(qctx)
	return err == nil && lag == 0
}

func (d *demo) progress(elapsed time.Duration, phase string) {
	var gen, pub uint64
	for _, n := range d.nodes {
		gen += n.count.generated.Load()
		pub += n.count.published.Load()
	}
	s := d.cons.Stats()
	pct := 100.0
	if pub > 0 {
		pct = 100 * float64(s.Readings) / float64(pub)
	}
	lag := "?"
	if s.Lag >= 0 {
		lag = fmt.Sprint(s.Lag)
	}
	fmt.Fprintf(d.out, "[%5.1fs %-8s] generated %8d  published %8d  consumed %8d (%5.1f%%)  frames %5d  ratio %5.2fx  duplicates %d  lag %s\n",
		elapsed.Seconds(), phase, gen, pub, s.Readings, pct, s.Frames, s.Ratio(), s.Duplicates, lag)
}

// summary prints the per-node table and reports whether every published
// reading was consumed exactly once.
func (d *demo) summary() bool {
	s := d.cons.Stats()
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "node\tgenerated\tpublished\tconsumed\tframes\traw bytes\twire bytes\tratio\tduplicates\t")
	var tg, tp, tf uint64
	ok := true
	for _, n := range d.nodes {
		ns := s.Nodes[n.node.ID]
		g, p, f := n.count.generated.Load(), n.count.published.Load(), n.count.frames.Load()
		tg, tp, tf = tg+g, tp+p, tf+f
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2fx\t%d\t\n", n.node.ID, g, p, ns.Readings, ns.Frames,
			ns.RawBytes, ns.WireBytes, ns.Ratio(), ns.Duplicates)
		if ns.Readings != p || ns.Frames != f {
			ok = false
		}
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%.2fx\t%d\t\n", tg, tp, s.Readings, s.Frames, s.RawBytes, s.WireBytes, s.Ratio(), s.Duplicates)
	tw.Flush()
	if s.Readings != tp || s.Duplicates != 0 || s.DecodeErrors != 0 {
		ok = false
	}
	fmt.Fprintf(d.out, "\nraw bytes = 16 per reading (8-byte timestamp + 8-byte float64); wire bytes = frame payloads as published\n")
	fmt.Fprintf(d.out, "consumer group edgeflow-demo: lag %d, decode errors %d, handler retries %d\n", s.Lag, s.DecodeErrors, s.HandlerErrors)
	d.printSampleTrace()
	if ok {
		fmt.Fprintf(d.out, "OK: consumed == published (%d readings), every frame exactly once\n", tp)
	} else {
		fmt.Fprintf(d.out, "MISMATCH: published %d readings in %d frames, consumed %d in %d frames\n", tp, tf, s.Readings, s.Frames)
	}
	return ok
}

// printSampleTrace prints the trace id of the first reading of the first node
// that reached the consumer, and where its spans went.
func (d *demo) printSampleTrace() {
	id := d.sampleTrace.Load()
	if id == nil || len(d.nodes) == 0 {
		return
	}
	where := "not exported (pass --otlp ENDPOINT to export traces)"
	if d.opts.tracing.Enabled() {
		where = "exported to " + d.opts.tracing.String()
	}
	fmt.Fprintf(d.out, "trace of %s's first reading in the cloud: %s, %s\n", d.nodes[0].node.ID, id, where)
}

// demoCountingProcessor counts readings into the first processor and readings
// in frames out of any processor.
type demoCountingProcessor struct {
	counts *demoCounts
	first  bool
	next   stages.Processor
}

func (p *demoCountingProcessor) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	out, err := p.next.Process(ctx, msg)
	if err != nil {
		return out, err
	}
	if p.first && msg.Metadata.Get(stages.MetaKind) == stages.KindReadings {
		p.counts.generated.Add(uint64(countLines(msg.Payload)))
	}
	p.counts.countFrames(out)
	return out, nil
}

type demoCountingFlusher struct {
	*demoCountingProcessor
	flusher stages.Flusher
}

func (p *demoCountingFlusher) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	out, err := p.flusher.Flush(ctx, mode)
	if err == nil {
		p.counts.countFrames(out)
	}
	return out, err
}

func (c *demoCounts) countFrames(msgs []*message.Message) {
	pipelines.EachFrame(msgs, func(h frame.Header, size int) {
		c.published.Add(uint64(h.Count))
		c.frames.Add(1)
		c.wire.Add(uint64(size))
	})
}

// countLines counts the non-blank lines of a readings payload.
func countLines(b []byte) int {
	n := 0
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}
