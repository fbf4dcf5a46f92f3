package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// DurationBuckets are the histogram bucket bounds, in seconds, of every
// edgeflow latency histogram (stage processing, Kafka publishing): 10µs to 10s.
var DurationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// SpoolDepthMetric is the name reserved for the number of messages waiting in a
// node's durable spool (edgeflow_spool_depth once exported); the spool reports
// it with ObserveSpoolDepth.
const SpoolDepthMetric = "edgeflow.spool.depth"

// ObserveSpoolDepth exports edgeflow_spool_depth{node, spool}: depth is called
// at each collection and returns the messages waiting in the spool. Unregister
// the result when the spool closes.
func ObserveSpoolDepth(mp metric.MeterProvider, node, spool string, depth func() int64) (metric.Registration, error) {
	m := mp.Meter("github.com/edgeflow/edgeflow/internal/telemetry")
	g, err := m.Int64ObservableGauge(SpoolDepthMetric,
		metric.WithDescription("Messages waiting in a node's durable spool to be published."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics: %w", err)
	}
	set := metric.WithAttributeSet(attribute.NewSet(attribute.String("node", node), attribute.String("spool", spool)))
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		o.ObserveInt64(g, depth(), set)
		return nil
	}, g)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics: %w", err)
	}
	return reg, nil
}

// Metrics is the metrics side of a process: an OpenTelemetry meter provider
// whose instruments are exported in the Prometheus format, together with the Go
// runtime and process collectors (go_*, process_*), on one registry that
// Handler serves.
type Metrics struct {
	provider *sdkmetric.MeterProvider
	registry *prometheus.Registry
}

// NewMetrics builds the meter provider for res (see NewResource): its
// attributes are exported once, as the labels of target_info.
func NewMetrics(res *resource.Resource) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("telemetry: metrics: go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("telemetry: metrics: process collector: %w", err)
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics: prometheus exporter: %w", err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithReader(exp)}
	if res != nil {
		opts = append(opts, sdkmetric.WithResource(res))
	}
	return &Metrics{provider: sdkmetric.NewMeterProvider(opts...), registry: reg}, nil
}

// MeterProvider is where instruments are made.
func (m *Metrics) MeterProvider() metric.MeterProvider { return m.provider }

// Handler serves the Prometheus text (or OpenMetrics) exposition of every
// metric; observable instruments are read at each scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Shutdown stops the meter provider; later scrapes return no edgeflow metrics.
func (m *Metrics) Shutdown(ctx context.Context) error {
	if err := m.provider.Shutdown(ctx); err != nil && !errors.Is(err, sdkmetric.ErrReaderShutdown) {
		return fmt.Errorf("telemetry: metrics: shutdown: %w", err)
	}
	return nil
}

// EnvMetricsAddr is the environment variable of the metrics and health address.
const EnvMetricsAddr = "EDGEFLOW_METRICS_ADDR"

// ResolveMetricsAddr picks the address of /metrics, /healthz and /readyz from
// the flag (--metrics-addr) value, then EDGEFLOW_METRICS_ADDR (lookupEnv,
// normally os.LookupEnv), then the node file's telemetry.metrics.listen. ""
// means the endpoints are off, as does the value "off" anywhere (which also
// turns off what a lower layer set).
func ResolveMetricsAddr(cfg MetricsConfig, lookupEnv func(string) (string, bool), flagValue string) (string, error) {
	addr, from := cfg.Listen, "telemetry.metrics.listen"
	if lookupEnv != nil {
		if v, ok := lookupEnv(EnvMetricsAddr); ok && strings.TrimSpace(v) != "" {
			addr, from = strings.TrimSpace(v), EnvMetricsAddr
		}
	}
	if flagValue != "" {
		addr, from = flagValue, "--metrics-addr"
	}
	if addr == "" || addr == "off" {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("%s: %q is not host:port: %w", from, addr, err)
	}
	return addr, nil
}
