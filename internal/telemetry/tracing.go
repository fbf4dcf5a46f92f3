package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The standard environment variables ResolveTracing reads.
const (
	EnvSDKDisabled          = "OTEL_SDK_DISABLED"
	EnvTracesExporter       = "OTEL_TRACES_EXPORTER"
	EnvOTLPEndpoint         = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint   = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvOTLPProtocol         = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvOTLPTracesProtocol   = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvOTLPInsecure         = "OTEL_EXPORTER_OTLP_INSECURE"
	EnvOTLPTracesInsecure   = "OTEL_EXPORTER_OTLP_TRACES_INSECURE"
	EnvTracesSampler        = "OTEL_TRACES_SAMPLER"
	EnvTracesSamplerArg     = "OTEL_TRACES_SAMPLER_ARG"
	defaultOTLPTracesURLDir = "/v1/traces"
)

// TracingSettings are the tracing settings in force once the node file, the
// environment and the command-line flags were combined (see ResolveTracing).
type TracingSettings struct {
	Exporter string // ExporterNone, ExporterOTLP or ExporterStdout
	Protocol string // ProtocolGRPC or ProtocolHTTP; with ExporterOTLP
	// Endpoint is host:port for gRPC, a URL for HTTP (its path is the one
	// spans are posted to, /v1/traces unless given).
	Endpoint string
	Insecure bool    // OTLP without TLS
	Ratio    float64 // share of new traces recorded, 0 to 1
}

// Enabled reports whether spans are exported anywhere.
func (s TracingSettings) Enabled() bool { return s.Exporter != "" && s.Exporter != ExporterNone }

// String describes the settings in one line, for start-up logs.
func (s TracingSettings) String() string {
	switch s.Exporter {
	case ExporterOTLP:
		sec := "tls"
		if s.Insecure {
			sec = "insecure"
		}
		return fmt.Sprintf("otlp %s %s (%s), sample ratio %g", s.Protocol, s.Endpoint, sec, s.Ratio)
	case ExporterStdout:
		return fmt.Sprintf("stdout, sample ratio %g", s.Ratio)
	}
	return "off"
}

// TracingFlags are the command-line settings of tracing; they win over the
// environment and the node file. The zero value sets nothing.
type TracingFlags struct {
	// OTLP is --otlp ENDPOINT: export over OTLP to ENDPOINT, gRPC for host:port,
	// HTTP (http/protobuf) for http:// and https:// URLs.
	OTLP string
	// SampleRatio is --trace-sample RATIO; nil when not given.
	SampleRatio *float64
}

// ResolveTracing combines the tracing settings. Each setting comes from the
// first place that sets it: flags, then the environment (lookupEnv, normally
// os.LookupEnv; empty values count as unset), then cfg (the node file), then
// the defaults: exporter otlp when an endpoint is set, otherwise none; protocol
// grpc; insecure for loopback hosts and http:// URLs; sample ratio 1.
//
// The environment variables are the standard ones: OTEL_SDK_DISABLED=true turns
// tracing off; OTEL_TRACES_EXPORTER (none, otlp, console or stdout);
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT (for
// HTTP, /v1/traces is appended to the path of the latter); the _PROTOCOL and
// _INSECURE variables likewise; OTEL_TRACES_SAMPLER with OTEL_TRACES_SAMPLER_ARG
// (always_on, always_off, traceidratio and their parentbased_ forms: edgeflow
// always follows the parent's decision, the ratio applies to new traces).
func ResolveTracing(cfg TracingConfig, lookupEnv func(string) (string, bool), flags TracingFlags) (TracingSettings, error) {
	if err := (Config{Tracing: cfg}).Validate(); err != nil {
		return TracingSettings{}, fmt.Errorf("telemetry: node file: %w", err)
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	env := func(key string) string {
		v, _ := lookupEnv(key)
		return strings.TrimSpace(v)
	}
	var errs []error

	exporter, protocol, endpoint := cfg.Exporter, cfg.Protocol, cfg.Endpoint
	insecure := cfg.Insecure
	ratio := cfg.SampleRatio
	appendSignalPath := false

	// The environment.
	if v := env(EnvTracesExporter); v != "" {
		first, _, _ := strings.Cut(v, ",") // one exporter: the first named
		switch e := strings.TrimSpace(strings.ToLower(first)); e {
		case ExporterNone, ExporterOTLP, ExporterStdout:
			exporter = e
		case "console":
			exporter = ExporterStdout
		default:
			errs = append(errs, fmt.Errorf("%s=%q: want none, otlp or console", EnvTracesExporter, v))
		}
	}
	if v := env(EnvOTLPTracesEndpoint); v != "" {
		endpoint = v
	} else if v := env(EnvOTLPEndpoint); v != "" {
		endpoint, appendSignalPath = v, true
	}
	if v := firstSet(env(EnvOTLPTracesProtocol), env(EnvOTLPProtocol)); v != "" {
		switch v {
		case ProtocolGRPC, ProtocolHTTP:
			protocol = v
		default:
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL=%q: want %s or %s", v, ProtocolGRPC, ProtocolHTTP))
		}
	}
	if v := firstSet(env(EnvOTLPTracesInsecure), env(EnvOTLPInsecure)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_(TRACES_)INSECURE=%q: want true or false", v))
		} else {
			insecure = &b
		}
	}
	if r, set, err := samplerFromEnv(env(EnvTracesSampler), env(EnvTracesSamplerArg)); err != nil {
		errs = append(errs, err)
	} else if set {
		ratio = &r
	}

	// The flags.
	if flags.OTLP != "" {
		exporter, endpoint, appendSignalPath = ExporterOTLP, flags.OTLP, false
		protocol = ProtocolGRPC
		if isURL(flags.OTLP) {
			protocol = ProtocolHTTP
		}
	}
	if flags.SampleRatio != nil {
		r := *flags.SampleRatio
		if !(r >= 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("--trace-sample %v: want a ratio between 0 and 1", r))
		}
		ratio = &r
	}
	if len(errs) > 0 {
		return TracingSettings{}, fmt.Errorf("telemetry: %w", errors.Join(errs...))
	}

	s := TracingSettings{Exporter: exporter, Protocol: protocol, Ratio: 1}
	if ratio != nil {
		s.Ratio = *ratio
	}
	if s.Exporter == "" {
		s.Exporter = ExporterNone
		if endpoint != "" {
			s.Exporter = ExporterOTLP
		}
	}
	if v := env(EnvSDKDisabled); strings.EqualFold(v, "true") && flags.OTLP == "" {
		s.Exporter = ExporterNone
	}
	if s.Exporter != ExporterOTLP {
		s.Protocol = ""
		return s, nil
	}
	if s.Protocol == "" {
		s.Protocol = ProtocolGRPC
	}
	if endpoint == "" {
		return TracingSettings{}, errors.New("telemetry: tracing exporter otlp needs an endpoint (tracing.endpoint, " +
			EnvOTLPTracesEndpoint + ", " + EnvOTLPEndpoint + " or --otlp)")
	}
	ep, defInsecure, err := normalizeEndpoint(endpoint, s.Protocol, appendSignalPath)
	if err != nil {
		return TracingSettings{}, fmt.Errorf("telemetry: tracing endpoint: %w", err)
	}
	s.Endpoint, s.Insecure = ep, defInsecure
	if insecure != nil {
		s.Insecure = *insecure
	}
	return s, nil
}

// samplerFromEnv maps OTEL_TRACES_SAMPLER and its argument to a ratio; set is
// false when the variable is not set.
func samplerFromEnv(sampler, arg string) (ratio float64, set bool, err error) {
	switch strings.ToLower(sampler) {
	case "":
		return 0, false, nil
	case "always_on", "parentbased_always_on":
		return 1, true, nil
	case "always_off", "parentbased_always_off":
		return 0, true, nil
	case "traceidratio", "parentbased_traceidratio":
		if arg == "" {
			return 1, true, nil
		}
		r, perr := strconv.ParseFloat(arg, 64)
		if perr != nil || !(r >= 0 && r <= 1) {
			return 0, false, fmt.Errorf("%s=%q: want a ratio between 0 and 1", EnvTracesSamplerArg, arg)
		}
		return r, true, nil
	}
	return 0, false, fmt.Errorf("%s=%q: want always_on, always_off, traceidratio or their parentbased_ forms", EnvTracesSampler, sampler)
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// normalizeEndpoint turns an endpoint into what the exporter of protocol takes
// (host:port for gRPC, a URL with the traces path for HTTP) and says whether it
// is insecure by default (loopback hosts and http:// URLs).
func normalizeEndpoint(endpoint, protocol string, appendSignalPath bool) (string, bool, error) {
	if isURL(endpoint) {
		u, err := url.Parse(endpoint)
		if err != nil {
			return "", false, fmt.Errorf("%q: %w", endpoint, err)
		}
		if u.Host == "" {
			return "", false, fmt.Errorf("%q: no host", endpoint)
		}
		insecure := u.Scheme == "http"
		if protocol == ProtocolGRPC {
			host := u.Host
			if u.Port() == "" {
				host = net.JoinHostPort(u.Hostname(), "4317")
			}
			return host, insecure, nil
		}
		switch {
		case appendSignalPath:
			u.Path = strings.TrimSuffix(u.Path, "/") + defaultOTLPTracesURLDir
		case u.Path == "" || u.Path == "/":
			u.Path = defaultOTLPTracesURLDir
		}
		return u.String(), insecure, nil
	}
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("%q is neither host:port nor an http(s):// URL", endpoint)
	}
	if protocol == ProtocolHTTP {
		u := url.URL{Scheme: "http", Host: endpoint, Path: defaultOTLPTracesURLDir}
		return u.String(), isLoopback(host), nil
	}
	return endpoint, isLoopback(host), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Tracing is the tracer provider of a process (or of one simulated node) and
// what it exports to. Shutdown flushes the spans still buffered.
type Tracing struct {
	settings TracingSettings
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when tracing is off
	restore  func()                   // puts back the previous globals; nil unless installed
	once     sync.Once
	err      error
}

// TracingOption adjusts NewTracing.
type TracingOption func(*tracingOptions)

type tracingOptions struct {
	exporter   sdktrace.SpanExporter
	processors []sdktrace.SpanProcessor
	stdout     io.Writer
	record     bool
}

// WithSpanExporter exports to exp instead of the exporter the settings name
// (tests, benchmarks); tracing is then on whatever the settings say.
func WithSpanExporter(exp sdktrace.SpanExporter) TracingOption {
	return func(o *tracingOptions) { o.exporter = exp }
}

// WithSpanProcessor adds a span processor (for example a
// tracetest.SpanRecorder); tracing is then on whatever the settings say.
func WithSpanProcessor(p sdktrace.SpanProcessor) TracingOption {
	return func(o *tracingOptions) { o.processors = append(o.processors, p) }
}

// WithStdoutWriter sets where the stdout exporter writes (default os.Stderr,
// which keeps standard output for data).
func WithStdoutWriter(w io.Writer) TracingOption {
	return func(o *tracingOptions) { o.stdout = w }
}

// WithRecording makes a real tracer provider even when s exports nowhere, so
// spans get trace ids (edgeflow demo prints one) at the cost of recording them.
func WithRecording() TracingOption {
	return func(o *tracingOptions) { o.record = true }
}

// NewTracing builds the tracer provider s describes, with resource res (see
// NewResource): a parent-based trace-id-ratio sampler and a batch span
// processor in front of the exporter. With the exporter none (and no exporter
// or processor given as an option) the provider is a no-op and costs nothing.
// It does not touch the global provider; see SetupTracing.
func NewTracing(ctx context.Context, s TracingSettings, res *resource.Resource, opts ...TracingOption) (*Tracing, error) {
	var o tracingOptions
	for _, opt := range opts {
		opt(&o)
	}
	t := &Tracing{settings: s}
	exp := o.exporter
	if exp == nil && s.Enabled() {
		var err error
		exp, err = newSpanExporter(ctx, s, o.stdout)
		if err != nil {
			return nil, err
		}
	}
	if exp == nil && len(o.processors) == 0 && !o.record {
		t.provider = noop.NewTracerProvider()
		return t, nil
	}
	popts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(Sampler(s.Ratio)),
	}
	if res != nil {
		popts = append(popts, sdktrace.WithResource(res))
	}
	if exp != nil {
		popts = append(popts, sdktrace.WithBatcher(exp))
	}
	for _, p := range o.processors {
		popts = append(popts, sdktrace.WithSpanProcessor(p))
	}
	t.sdk = sdktrace.NewTracerProvider(popts...)
	t.provider = t.sdk
	return t, nil
}

// Sampler is the sampler edgeflow uses: a span whose parent was sampled is
// sampled, one whose parent was not is not, and a new trace is sampled with
// probability ratio (by its trace id).
func Sampler(ratio float64) sdktrace.Sampler {
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
}

func newSpanExporter(ctx context.Context, s TracingSettings, stdout io.Writer) (sdktrace.SpanExporter, error) {
	switch s.Exporter {
	case ExporterStdout:
		if stdout == nil {
			stdout = os.Stderr
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(stdout))
		if err != nil {
			return nil, fmt.Errorf("telemetry: stdout exporter: %w", err)
		}
		return exp, nil
	case ExporterOTLP:
		switch s.Protocol {
		case ProtocolHTTP:
			u, err := url.Parse(s.Endpoint)
			if err != nil {
				return nil, fmt.Errorf("telemetry: otlp endpoint %q: %w", s.Endpoint, err)
			}
			opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithURLPath(u.Path)}
			if s.Insecure {
				opts = append(opts, otlptracehttp.WithInsecure())
			}
			exp, err := otlptracehttp.New(ctx, opts...)
			if err != nil {
				return nil, fmt.Errorf("telemetry: otlp http exporter to %s: %w", s.Endpoint, err)
			}
			return exp, nil
		default:
			opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(s.Endpoint)}
			if s.Insecure {
				opts = append(opts, otlptracegrpc.WithInsecure())
			}
			exp, err := otlptracegrpc.New(ctx, opts...)
			if err != nil {
				return nil, fmt.Errorf("telemetry: otlp grpc exporter to %s: %w", s.Endpoint, err)
			}
			return exp, nil
		}
	}
	return nil, fmt.Errorf("telemetry: tracing exporter %q unknown", s.Exporter)
}

// SetupTracing resolves the tracing settings of a process (cfg from the node
// file, then os.LookupEnv, then flags; see ResolveTracing), builds the tracer
// provider with resource res, and installs it and the W3C propagator
// (tracecontext and baggage) as the OpenTelemetry globals. Call Shutdown on
// exit: it flushes buffered spans and puts the previous globals back.
func SetupTracing(ctx context.Context, cfg Config, res *resource.Resource, flags TracingFlags, opts ...TracingOption) (*Tracing, error) {
	s, err := ResolveTracing(cfg.Tracing, os.LookupEnv, flags)
	if err != nil {
		return nil, err
	}
	t, err := NewTracing(ctx, s, res, opts...)
	if err != nil {
		return nil, err
	}
	t.Install()
	return t, nil
}

// Install makes t's provider and the W3C propagator the OpenTelemetry globals,
// until Shutdown.
func (t *Tracing) Install() {
	prevProvider, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(t.provider)
	otel.SetTextMapPropagator(Propagator())
	t.restore = func() {
		otel.SetTracerProvider(prevProvider)
		otel.SetTextMapPropagator(prevProp)
	}
}

// TracerProvider is the provider to start spans with: a no-op one when
// tracing is off.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Enabled reports whether spans are recorded (sampled spans go somewhere).
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Settings are the settings t was built from.
func (t *Tracing) Settings() TracingSettings { return t.settings }

// Shutdown ends tracing: buffered spans are exported (within ctx), the
// exporter closed and the previous globals restored. It is idempotent.
func (t *Tracing) Shutdown(ctx context.Context) error {
	t.once.Do(func() {
		if t.restore != nil {
			t.restore()
		}
		if t.sdk != nil {
			if err := t.sdk.Shutdown(ctx); err != nil {
				t.err = fmt.Errorf("telemetry: flushing spans: %w", err)
			}
		}
	})
	return t.err
}

// ShutdownTimeout is how long processes give Shutdown to export what is left.
const ShutdownTimeout = 5 * time.Second

// Span attribute keys edgeflow sets besides AttrNodeID and AttrPipeline.
const (
	// AttrStep is where a stage is in its pipeline file, e.g. "stages[0] (encode)".
	AttrStep = attribute.Key("edgeflow.step")
	// AttrStream is the stream (sensor) of the data, when one stream.
	AttrStream = attribute.Key("edgeflow.stream")
	// AttrBatchSize is the number of messages a write or flush handled.
	AttrBatchSize = attribute.Key("edgeflow.batch.size")
	// AttrReadings is the number of readings a message decoded into.
	AttrReadings = attribute.Key("edgeflow.readings")
	// AttrFlushInputs is the number of messages a buffering stage took in since
	// its previous flushed output.
	AttrFlushInputs = attribute.Key("edgeflow.flush.inputs")
	// AttrFlushLinksDropped counts the sampled inputs of a flush that got no span
	// link because of the cap (MaxFlushLinks).
	AttrFlushLinksDropped = attribute.Key("edgeflow.flush.links_dropped")
	// AttrMessagingSystem, AttrMessagingDestination, AttrKafkaPartition,
	// AttrKafkaOffset and AttrPartitionID describe a Kafka record.
	AttrMessagingSystem      = attribute.Key("messaging.system")
	AttrMessagingDestination = attribute.Key("messaging.destination.name")
	AttrKafkaPartition       = attribute.Key("messaging.kafka.partition")
	AttrKafkaOffset          = attribute.Key("messaging.kafka.offset")
	AttrPartitionID          = attribute.Key("messaging.destination.partition.id")
)

// MaxFlushLinks caps the span links of one flush span.
const MaxFlushLinks = 128

// TracerName is the instrumentation scope of edgeflow's spans.
const TracerName = "github.com/edgeflow/edgeflow"
