package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

const tailUsage = `Usage: edgeflow tail [flags] TOPIC

Reads TOPIC with a Kafka consumer group, decodes frames and readings messages,
drops frames already delivered, and prints the readings as JSON lines on
standard output (one reading per line), or one line per message with --frames.

Brokers come from --brokers, else the environment variable EDGEFLOW_BROKERS
(comma-separated), else 127.0.0.1:9092. Without --group a fresh group is used,
so tail never takes partitions away from other consumers; it then prints only
what is published after it starts unless --from-beginning is given.

With --otlp ENDPOINT (or the OTEL_EXPORTER_OTLP_* environment variables) each
message gets a "consume TOPIC" span with a "decode" child, continuing the trace
the edge node wrote into the Kafka headers (service.name edgeflow-cloud).

Examples:
  edgeflow tail edgeflow.frames
  edgeflow tail --from-beginning -n 100 edgeflow.frames
  edgeflow tail --frames --brokers kafka-1:9092,kafka-2:9092 edgeflow.frames
  edgeflow tail --group dashboards --from-beginning edgeflow.frames | jq .value
  edgeflow tail --metrics-addr :9465 --group dashboards edgeflow.frames > /dev/null
  edgeflow tail --otlp 127.0.0.1:4317 --trace-sample 0.1 edgeflow.frames`

func init() {
	register(command{
		name:    "tail",
		summary: "print the readings of a Kafka topic as JSON lines",
		usage:   tailUsage,
		run:     runTail,
	})
}

// tailOptions are the flags of edgeflow tail.
type tailOptions struct {
	brokers       string
	group         string
	fromBeginning bool
	frames        bool
	limit         int64
	stats         bool
	verbose       bool
	metricsAddr   string
}

func runTail(ctx context.Context, args []string, io stdio) error {
	c := commands["tail"]
	fs := newFlagSet(c, io.err)
	var o tailOptions
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated Kafka bootstrap brokers (default $EDGEFLOW_BROKERS, else 127.0.0.1:9092)")
	fs.StringVar(&o.group, "group", "", "consumer group to commit offsets for (default: a fresh group edgeflow-tail-RANDOM)")
	fs.BoolVar(&o.fromBeginning, "from-beginning", false, "a group without committed offsets starts at the oldest message instead of the newest")
	fs.BoolVar(&o.frames, "frames", false, "print one JSON line per frame (its header) instead of one per reading")
	fs.Int64Var(&o.limit, "n", 0, "stop after printing `N` readings (with --frames: N frames); 0 means no limit")
	fs.BoolVar(&o.stats, "stats", false, "print the consumer's counters on standard error at the end")
	fs.BoolVar(&o.verbose, "v", false, "log skipped messages and retries on standard error")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", metricsAddrUsage)
	tracingFlags := bindTracingFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	traceSettings, err := resolveTracing(telemetry.Config{}, os.LookupEnv, tracingFlags)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 || o.limit < 0 {
		return errUsage
	}
	topic := fs.Arg(0)
	listen, err := telemetry.ResolveMetricsAddr(telemetry.MetricsConfig{}, os.LookupEnv, o.metricsAddr)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if o.group == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.group = "edgeflow-tail-" + hex.EncodeToString(b[:])
	}
	start := cloud.StartLatest
	if o.fromBeginning {
		start = cloud.StartEarliest
	}
	level := slog.LevelError
	if o.verbose {
		level = slog.LevelInfo
	}
	brokers, err := tailBrokerList(o.brokers)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level}))
	tracing, err := startTracing(ctx, traceSettings, telemetry.Config{},
		telemetry.Process{Role: telemetry.RoleCloud, Version: version}, logger)
	if err != nil {
		return err
	}
	defer stopTracing(tracing, logger)
	cons, err := cloud.NewConsumer(cloud.ConsumerConfig{
		Brokers: brokers, Topic: topic, Group: o.group, Start: start,
		Logger: logger, TracerProvider: tracing.TracerProvider(),
	})
	if err != nil {
		return err
	}
	defer cons.Close()
	ep, err := startEndpoints(ctx, listen, telemetry.Config{}, telemetry.Process{Role: telemetry.RoleCloud, Version: version},
		slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level})))
	if err != nil {
		return err
	}
	defer func() {
		if err := ep.stop(); err != nil {
			fmt.Fprintf(io.err, "tail: %v\n", err)
		}
	}()
	if ep != nil {
		if err := ep.register(cons.RegisterMetrics(ep.meterProvider())); err != nil {
			return err
		}
		ep.addKafkaCheck(brokers)
		ep.addCheck("consumer", telemetry.CachedCheck(consumerCheckTTL, cons.Ready))
		ep.serve()
	}

	w := bufio.NewWriterSize(io.out, 64<<10)
	defer w.Flush()
	var printed int64
	var line []byte
	err = cons.Run(ctx, func(ctx context.Context, b cloud.Batch) error {
		if o.frames {
			line = appendBatchHeader(line[:0], b)
			line = append(line, '\n')
			printed++
		} else {
			line = line[:0]
			for _, r := range b.Readings {
				if o.limit > 0 && printed >= o.limit {
					break
				}
				line = reading.AppendJSON(line, r)
				line = append(line, '\n')
				printed++
			}
		}
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if o.limit > 0 && printed >= o.limit {
			return cloud.ErrStop
		}
		return nil
	})
	if o.stats {
		s := cons.Stats()
		fmt.Fprintf(io.err, "tail: %d messages, %d frames, %d readings, %d bytes on the wire, %d raw (ratio %.2f), %d duplicates dropped (%d stale), %d restarts, %d decode errors\n",
			s.Messages, s.Frames, s.Readings, s.WireBytes, s.RawBytes, s.Ratio(), s.Duplicates, s.Stale, s.Restarts, s.DecodeErrors)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// tailBrokerList splits a --brokers value, falling back to EDGEFLOW_BROKERS and
// then to the local default, and checks each address.
func tailBrokerList(flagValue string) ([]string, error) {
	v := flagValue
	if v == "" {
		v = os.Getenv(edge.EnvBrokers)
	}
	if v == "" {
		v = edge.DefaultBroker
	}
	var out []string
	for _, b := range strings.Split(v, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := edge.ValidateBroker(b); err != nil {
				return nil, fmt.Errorf("--brokers: %w", err)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// batchLine is the JSON form of a batch printed by tail --frames.
type batchLine struct {
	Kind      string `json:"kind"`
	Node      string `json:"node"`
	Stream    string `json:"stream,omitempty"`
	Seq       uint64 `json:"seq,omitempty"`
	Codec     string `json:"codec,omitempty"`
	Lossy     bool   `json:"lossy,omitempty"`
	Version   uint8  `json:"version,omitempty"`
	First     string `json:"first_ts,omitempty"`
	Count     int    `json:"count"`
	Bytes     int    `json:"bytes"`
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

func appendBatchHeader(dst []byte, b cloud.Batch) []byte {
	l := batchLine{Kind: b.Kind, Node: b.Node, Stream: b.Stream, Count: len(b.Readings), Bytes: b.WireBytes,
		Topic: b.Position.Topic, Partition: b.Position.Partition, Offset: b.Position.Offset}
	if b.Kind == stages.KindFrame {
		l.Seq, l.Codec, l.Lossy, l.Version = b.Seq, b.Header.Codec.String(), b.Header.Lossy, b.Header.Version
		l.First = time.Unix(0, b.Header.FirstTimestamp).UTC().Format(time.RFC3339Nano)
	}
	out, _ := json.Marshal(l)
	return append(dst, out...)
}
