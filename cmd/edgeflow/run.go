package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/pipelines"
	_ "github.com/edgeflow/edgeflow/stages/all" // every standard stage
)

const runUsage = `Usage: edgeflow run [flags] FILE...

Runs the pipelines declared in the YAML files on this edge node until it gets
SIGINT or SIGTERM, then drains them: sources stop, messages in flight are
written, buffering stages (encode) are flushed to the sinks, and every stage is
closed. On exit it prints one summary line per pipeline on standard error (per
stage: messages in, out and errors) and exits 0; it exits 1 if a file does not
load (every problem is printed as FILE:LINE: PATH: message), a stage cannot be
built, or a pipeline failed.

Pipelines whose node_selector does not match the node's labels are skipped;
if none matches, edgeflow run says so and exits 0.
The node (id, labels, brokers, data directory) comes from flags, then the
environment (EDGEFLOW_NODE_ID, EDGEFLOW_NODE_LABELS, EDGEFLOW_BROKERS,
EDGEFLOW_DATA_DIR), then the node file, then defaults; see docs/configuration.md.

Tracing (OpenTelemetry): --otlp ENDPOINT exports spans over OTLP (gRPC for
host:port, HTTP for http(s):// URLs) and --trace-sample RATIO keeps that share
of new traces; without them the OTEL_* environment variables, then the node
file's telemetry.tracing section decide (default: off). Trace context travels
to the cloud in the Kafka headers traceparent, tracestate and baggage; see
docs/observability.md.

Metrics and health: --metrics-addr HOST:PORT (or EDGEFLOW_METRICS_ADDR, or the
node file's telemetry.metrics.listen) serves Prometheus metrics on /metrics,
liveness on /healthz and readiness on /readyz (every pipeline running, Kafka
reachable when a pipeline uses it); see docs/observability.md.

Heartbeats: every --heartbeat-interval (default 5s; 0 turns them off) the node
publishes its capacity, free resources, labels and running pipelines to the
topic edgeflow.heartbeats, where edgeflow nodes and the placement see them; see
docs/topics.md.

Tasks: with --assignments the node also runs the tasks the scheduler
(edgeflow schedule) assigns to it on the topic edgeflow.assignments, starting
new ones, draining and stopping removed ones; a task names a pipeline file in
--pipelines-dir or carries its pipeline. FILE arguments are then optional; see
docs/scheduling.md.

Examples:
  edgeflow run pipelines/examples/*.yaml
  edgeflow run --node-id gw-7 --labels site=plant-1,role=gateway boiler.yaml
  EDGEFLOW_BROKERS=kafka-1:9092,kafka-2:9092 edgeflow run --node-file /etc/edgeflow/node.yaml plant.yaml
  edgeflow run --otlp 127.0.0.1:4317 --trace-sample 0.01 plant.yaml
  edgeflow run --metrics-addr :9464 plant.yaml        # then curl localhost:9464/metrics
  edgeflow run --print-node --node-file node.yaml     # show the resolved node and exit
  edgeflow run --node-id gw-7 --assignments --pipelines-dir /etc/edgeflow/pipelines`

func init() {
	c := command{name: "run", summary: "run pipeline files on this edge node until interrupted", usage: runUsage}
	c.run = func(ctx context.Context, args []string, io stdio) error {
		return runRun(ctx, c, args, io, os.LookupEnv)
	}
	register(c)
}

func runRun(ctx context.Context, c command, args []string, stdio stdio, lookupEnv func(string) (string, bool)) error {
	fs := newFlagSet(c, stdio.err)
	nodeFlags := edge.BindFlags(fs)
	flushInterval := fs.Duration("flush-interval", pipelines.DefaultFlushInterval, "how often buffering stages are flushed to the sinks")
	drainTimeout := fs.Duration("drain-timeout", pipelines.DefaultDrainTimeout, "how long draining may take after SIGINT/SIGTERM before in-flight messages are cancelled")
	maxRedeliveries := fs.Int("max-redeliveries", pipelines.DefaultMaxRedeliveries, "redeliveries of a failing message before it is dropped (-1: never drop)")
	retries := fs.Int("retries", pipelines.DefaultRetries, "in-place retries of a failing message (with backoff) before it is nacked to its source")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	printNode := fs.Bool("print-node", false, "print the resolved node settings as YAML and exit")
	statsInterval := fs.Duration("stats-interval", 0, "log every pipeline's counters this often (0: only the summary at exit)")
	metricsAddr := fs.String("metrics-addr", "", metricsAddrUsage)
	heartbeatInterval := fs.String("heartbeat-interval", "", "publish the node's heartbeat this often, e.g. 5s; 0 turns heartbeats off (env "+edge.EnvHeartbeatInterval+"; default: the node file's heartbeat.interval, else 5s)")
	heartbeatTopic := fs.String("heartbeat-topic", "", "Kafka `topic` of the heartbeats (env "+edge.EnvHeartbeatTopic+"; default: the node file's heartbeat.topic, else "+edge.DefaultHeartbeatTopic+")")
	tracingFlags := bindTracingFlags(fs)
	assign := bindAssignmentFlags(fs)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	logger, err := newRunLogger(stdio.err, *logLevel, *logFormat)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	settings, err := edge.ResolveSettings(nodeFlags, lookupEnv)
	if err != nil {
		return err
	}
	if *printNode {
		return printNodeSettings(stdio.out, settings)
	}
	listen, err := telemetry.ResolveMetricsAddr(settings.Telemetry.Metrics, lookupEnv, *metricsAddr)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	traceSettings, err := resolveTracing(settings.Telemetry, lookupEnv, tracingFlags)
	if err != nil {
		return err
	}
	heartbeat, heartbeatOn, err := edge.ResolveHeartbeat(settings.Heartbeat, lookupEnv, *heartbeatInterval, *heartbeatTopic)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := assign.validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(files) == 0 && !assign.enabled() {
		return errUsage
	}
	if *drainTimeout <= 0 || *flushInterval <= 0 {
		return &exitError{code: 2, err: errors.New("--flush-interval and --drain-timeout must be positive")}
	}

	pipes, err := pipelines.LoadFiles(files...)
	if err != nil {
		for _, e := range pipelines.Errors(err) {
			fmt.Fprintln(stdio.err, e)
		}
		return &exitError{code: 1, err: fmt.Errorf("edgeflow run: %d problem(s) in the pipeline files; nothing was started", len(pipelines.Errors(err)))}
	}

	node := settings.Node()
	tracing, err := startTracing(ctx, traceSettings, settings.Telemetry,
		telemetry.Process{Role: telemetry.RoleEdge, NodeID: node.ID, Version: version}, logger)
	if err != nil {
		return err
	}
	defer stopTracing(tracing, logger)
	ep, err := startEndpoints(ctx, listen, settings.Telemetry,
		telemetry.Process{Role: telemetry.RoleEdge, NodeID: node.ID, Version: version}, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := ep.stop(); err != nil {
			logger.Warn("stopping the metrics endpoints", "error", err)
		}
	}()
	metricOpts, observe, err := ep.pipelineMetrics(node.ID)
	if err != nil {
		return err
	}
	runnerOpts := append([]pipelines.RunnerOption{
		pipelines.WithFlushInterval(*flushInterval),
		pipelines.WithDrainTimeout(*drainTimeout),
		pipelines.WithMaxRedeliveries(*maxRedeliveries),
		pipelines.WithRetry(*retries, 0, 0),
		pipelines.WithTracing(tracing.TracerProvider())}, metricOpts...)
	rt := edge.NewRuntime(node, logger, runnerOpts...)
	stats, running := rt.Stats, edge.RuntimePipelines(rt)
	var assigned *assignedTasks
	if assign.enabled() {
		if assigned, err = assign.start(ctx, settings, logger, runnerOpts); err != nil {
			return err
		}
		stats = func() []pipelines.Stats { return append(rt.Stats(), assigned.sup.Stats()...) }
		running = func() []string { return append(edge.RuntimePipelines(rt)(), assigned.sup.Running()...) }
		ep.addCheck("tasks", assigned.sup.Ready)
	}
	if err := observe(stats); err != nil {
		return err
	}
	if len(pipes) > 0 || assigned == nil {
		ep.addCheck("pipelines", rt.Ready)
	}
	ep.addKafkaCheck(kafkaClusters(pipes, node.Brokers)...)
	ep.serve()
	logger.Info("starting", "node", node.ID, "labels", edge.FormatLabels(node.Labels),
		"brokers", strings.Join(node.Brokers, ","), "pipelines", len(pipes))
	if *statsInterval > 0 {
		stopStats := make(chan struct{})
		defer close(stopStats)
		go func() {
			t := time.NewTicker(*statsInterval)
			defer t.Stop()
			for {
				select {
				case <-stopStats:
					return
				case <-t.C:
					for _, st := range rt.Stats() {
						logger.Info("stats", "pipeline", st.Pipeline, "stats", st.String())
					}
				}
			}
		}()
	}
	if heartbeatOn {
		stopHeartbeats, err := startHeartbeats(ctx, settings, heartbeat, running, logger)
		if err != nil {
			return err
		}
		defer stopHeartbeats()
	}
	var results []edge.Result
	if len(pipes) > 0 || assigned == nil {
		results, err = rt.Run(ctx, pipes)
	}
	if assigned != nil {
		err = errors.Join(err, assigned.wait())
	}
	ran := 0
	for _, r := range results {
		switch {
		case r.Skipped:
			fmt.Fprintf(stdio.err, "pipeline %s: skipped (node_selector %s does not match labels %q)\n",
				r.Pipeline.Name, edge.FormatLabels(r.Pipeline.NodeSelector), edge.FormatLabels(node.Labels))
		case r.Stats.Pipeline != "":
			ran++
			fmt.Fprintln(stdio.err, r.Stats)
		}
	}
	if err != nil {
		return err
	}
	if ran == 0 && assigned == nil {
		fmt.Fprintf(stdio.err, "edgeflow run: no pipeline selects node %s (labels %q)\n", node.ID, edge.FormatLabels(node.Labels))
	}
	return nil
}

// startHeartbeats publishes the node's heartbeats until the returned function
// is called; that sends a last heartbeat saying the node stops.
func startHeartbeats(ctx context.Context, settings edge.NodeSettings, hs edge.HeartbeatSettings, running func() []string, logger *slog.Logger) (stop func(), err error) {
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: settings.Brokers, Key: edge.HeartbeatKey,
		WriteTimeout: hs.Interval, TopicConfig: edge.HeartbeatTopicConfig})
	if err != nil {
		return nil, fmt.Errorf("heartbeats: %w", err)
	}
	h, err := edge.NewHeartbeater(edge.HeartbeatConfig{
		NodeID: settings.ID, Labels: settings.Labels, Version: version, Interval: hs.Interval, Topic: hs.Topic,
		Publisher: pub, Sampler: &edge.ResourceSampler{DataDir: settings.DataDir, Accelerators: hs.Accelerators},
		Pipelines: running, Accelerators: hs.Accelerators, Logger: logger,
	})
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	hbCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(hbCtx)
	}()
	logger.Info("heartbeats", "topic", hs.Topic, "interval", hs.Interval)
	return func() {
		cancel()
		<-done
		if err := pub.Close(); err != nil {
			logger.Warn("closing the heartbeat publisher", "error", err)
		}
	}, nil
}

// newRunLogger returns a slog logger writing to w.
func newRunLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// printNodeSettings writes s in the node-file format.
func printNodeSettings(w io.Writer, s edge.NodeSettings) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return err
	}
	return enc.Close()
}
