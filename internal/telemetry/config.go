package telemetry

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Exporters a TracingConfig may name.
const (
	ExporterNone   = "none"   // no spans are exported (the tracer provider is a no-op)
	ExporterOTLP   = "otlp"   // OTLP over gRPC or HTTP, see Protocol
	ExporterStdout = "stdout" // spans as JSON on stderr, for debugging
)

// OTLP protocols a TracingConfig may name (the values of OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Config is the telemetry: section of a node file. Every field is optional;
// unset fields come from the standard OTEL_* environment variables, then from
// the defaults.
type Config struct {
	// ServiceName is the service.name resource attribute (env OTEL_SERVICE_NAME;
	// default "edgeflow-edge" for edge processes, "edgeflow-cloud" for cloud ones).
	ServiceName string `yaml:"service_name,omitempty"`
	// Resource holds extra resource attributes (env OTEL_RESOURCE_ATTRIBUTES);
	// node id, pipeline and version are always added.
	Resource map[string]string `yaml:"resource,omitempty"`
	// Tracing says where spans go and how many are kept.
	Tracing TracingConfig `yaml:"tracing,omitempty"`
	// Metrics says where the Prometheus and health endpoints listen.
	Metrics MetricsConfig `yaml:"metrics,omitempty"`
}

// TracingConfig configures the span exporter and the sampler.
type TracingConfig struct {
	// Exporter is none, otlp or stdout (env OTEL_TRACES_EXPORTER; default otlp
	// when an OTLP endpoint is set, otherwise none).
	Exporter string `yaml:"exporter,omitempty"`
	// Protocol is grpc or http/protobuf (env OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
	// OTEL_EXPORTER_OTLP_PROTOCOL; default grpc).
	Protocol string `yaml:"protocol,omitempty"`
	// Endpoint is the OTLP receiver, host:port or a URL (env
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT).
	Endpoint string `yaml:"endpoint,omitempty"`
	// Insecure sends OTLP without TLS (default true for loopback endpoints and
	// http:// URLs).
	Insecure *bool `yaml:"insecure,omitempty"`
	// SampleRatio is the share of new traces recorded, 0 to 1 (env
	// OTEL_TRACES_SAMPLER=parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG;
	// default 1). Spans whose parent was sampled are always recorded.
	SampleRatio *float64 `yaml:"sample_ratio,omitempty"`
}

// MetricsConfig configures the HTTP endpoints /metrics, /healthz and /readyz.
type MetricsConfig struct {
	// Listen is the address of the endpoints, host:port; empty or "off" serves
	// none (flag --metrics-addr, env EDGEFLOW_METRICS_ADDR).
	Listen string `yaml:"listen,omitempty"`
}

// Validate checks the fields that can be checked without the environment.
func (c Config) Validate() error {
	var errs []error
	switch c.Tracing.Exporter {
	case "", ExporterNone, ExporterOTLP, ExporterStdout:
	default:
		errs = append(errs, fmt.Errorf("tracing.exporter: %q unknown (want none|otlp|stdout)", c.Tracing.Exporter))
	}
	switch c.Tracing.Protocol {
	case "", ProtocolGRPC, ProtocolHTTP:
	default:
		errs = append(errs, fmt.Errorf("tracing.protocol: %q unknown (want grpc|http/protobuf)", c.Tracing.Protocol))
	}
	if r := c.Tracing.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) {
		errs = append(errs, fmt.Errorf("tracing.sample_ratio: %v is not between 0 and 1", *r))
	}
	if l := c.Metrics.Listen; l != "" && l != "off" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			errs = append(errs, fmt.Errorf("metrics.listen: %q is not host:port: %w", l, err))
		}
	}
	for k := range c.Resource {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("resource: empty attribute name"))
		}
	}
	return errors.Join(errs...)
}
