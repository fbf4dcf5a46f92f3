package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/pipelines"
)

// metricsAddrUsage is the help text of every --metrics-addr flag.
const metricsAddrUsage = "serve /metrics (Prometheus), /healthz and /readyz on `host:port` (env " +
	telemetry.EnvMetricsAddr + "; port 0 picks a free one; default: off)"

// kafkaCheckTTL is how long the result of the Kafka readiness check is reused.
const kafkaCheckTTL = 5 * time.Second

// endpoints are a process's /metrics, /healthz and /readyz. A nil *endpoints
// (the address is off) does nothing.
type endpoints struct {
	metrics *telemetry.Metrics
	health  *telemetry.Health
	server  *telemetry.EndpointServer
	log     *slog.Logger
	regs    []metric.Registration

	serveCtx context.Context
	stopped  context.CancelFunc
	done     chan error // nil until serve
}

// startEndpoints binds addr for the endpoints of process p ("" means off: it
// returns nil); serve starts answering once the readiness checks are added, so
// that /readyz never answers ready before they are. The meter provider becomes
// the global one, so that libraries that take theirs from there (Kafka
// publishers built by stages) report through it. The server runs until stop,
// not until ctx ends, so that /readyz says "draining" while pipelines drain
// after a signal.
func startEndpoints(ctx context.Context, addr string, cfg telemetry.Config, p telemetry.Process, log *slog.Logger) (*endpoints, error) {
	if addr == "" {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res, err := telemetry.NewResource(ctx, cfg, p)
	if err != nil {
		return nil, err
	}
	m, err := telemetry.NewMetrics(res)
	if err != nil {
		return nil, err
	}
	h := telemetry.NewHealth(0)
	srv, err := telemetry.ListenEndpoints(ctx, addr, m, h, log)
	if err != nil {
		_ = m.Shutdown(ctx)
		return nil, err
	}
	otel.SetMeterProvider(m.MeterProvider())
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	return &endpoints{metrics: m, health: h, server: srv, log: log, serveCtx: serveCtx, stopped: stop}, nil
}

// serve starts answering requests; call it once the readiness checks are added.
func (e *endpoints) serve() {
	if e == nil || e.done != nil {
		return
	}
	e.done = make(chan error, 1)
	go func() { e.done <- e.server.Serve(e.serveCtx) }()
	addr := e.server.Addr()
	e.log.Info("metrics and health endpoints", "metrics", "http://"+addr+"/metrics",
		"healthz", "http://"+addr+"/healthz", "readyz", "http://"+addr+"/readyz")
}

// meterProvider is where instruments are made (a no-op provider when off).
func (e *endpoints) meterProvider() metric.MeterProvider {
	if e == nil {
		return otel.GetMeterProvider()
	}
	return e.metrics.MeterProvider()
}

// addCheck adds a readiness check.
func (e *endpoints) addCheck(name string, c telemetry.Check) {
	if e != nil {
		e.health.AddCheck(name, c)
	}
}

// addKafkaCheck adds the readiness check "kafka": every cluster, given by its
// bootstrap brokers, answers a metadata request (the answer is reused for
// kafkaCheckTTL). Without clusters it adds nothing.
func (e *endpoints) addKafkaCheck(clusters ...[]string) {
	if len(clusters) == 0 {
		return
	}
	e.addCheck("kafka", telemetry.CachedCheck(kafkaCheckTTL, func(ctx context.Context) error {
		var errs []error
		for _, brokers := range clusters {
			errs = append(errs, kafkabus.CheckBrokers(ctx, brokers))
		}
		return errors.Join(errs...)
	}))
}

// pipelineMetrics instruments the pipelines of node: the returned options go
// to every Runner, observe registers their counters once they exist.
func (e *endpoints) pipelineMetrics(node string) (opts []pipelines.RunnerOption, observe func(stats func() []pipelines.Stats) error, err error) {
	if e == nil {
		return nil, func(func() []pipelines.Stats) error { return nil }, nil
	}
	pm, err := pipelines.NewMetrics(e.metrics.MeterProvider(), node)
	if err != nil {
		return nil, nil, err
	}
	return pm.RunnerOptions(), func(stats func() []pipelines.Stats) error {
		reg, err := pm.Observe(stats)
		if err != nil {
			return err
		}
		e.regs = append(e.regs, reg)
		return nil
	}, nil
}

// register keeps reg to unregister at stop.
func (e *endpoints) register(reg metric.Registration, err error) error {
	if err != nil || e == nil {
		return err
	}
	e.regs = append(e.regs, reg)
	return nil
}

// stop shuts the server down gracefully, then the meter provider.
func (e *endpoints) stop() error {
	if e == nil {
		return nil
	}
	e.stopped()
	var errs []error
	if e.done != nil {
		errs = append(errs, <-e.done)
	} else {
		errs = append(errs, e.server.Close())
	}
	for _, r := range e.regs {
		errs = append(errs, r.Unregister())
	}
	ctx, cancel := context.WithTimeout(context.Background(), telemetry.EndpointShutdownTimeout)
	defer cancel()
	errs = append(errs, e.metrics.Shutdown(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metrics endpoints: %w", err)
	}
	return nil
}

// kafkaClusters lists the Kafka clusters the kafka sources and sinks of pipes
// talk to, each as its bootstrap brokers: a step's own brokers:, else the
// node's. Each list appears once.
func kafkaClusters(pipes []*pipelines.Pipeline, nodeBrokers []string) [][]string {
	var out [][]string
	seen := map[string]bool{}
	for _, p := range pipes {
		for _, steps := range [][]pipelines.Step{p.Sources, p.Sinks} {
			for _, s := range steps {
				if s.Reg == nil || s.Reg.ID != "kafka" {
					continue
				}
				brokers := nodeBrokers
				if v, ok := configField(s.Config, "brokers"); ok && v.Kind() == reflect.Slice && v.Len() > 0 {
					if b, ok := v.Interface().([]string); ok {
						brokers = b
					}
				}
				if key := strings.Join(brokers, ","); !seen[key] {
					seen[key] = true
					out = append(out, brokers)
				}
			}
		}
	}
	return out
}

// consumerCheckTTL is how long the result of the consumer-group readiness
// check is reused.
const consumerCheckTTL = 2 * time.Second
