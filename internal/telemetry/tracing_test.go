package telemetry

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func ptr[T any](v T) *T { return &v }

// TestResolveTracingPrecedence checks where each tracing setting comes from:
// flags, then the environment, then the node file, then the defaults.
func TestResolveTracingPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		file    TracingConfig
		env     map[string]string
		flags   TracingFlags
		want    TracingSettings
		wantErr string
	}{
		{name: "nothing set: off", want: TracingSettings{Exporter: ExporterNone, Ratio: 1}},
		{name: "node file endpoint turns otlp on",
			file: TracingConfig{Endpoint: "127.0.0.1:4317"},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "127.0.0.1:4317", Insecure: true, Ratio: 1}},
		{name: "remote grpc endpoint uses TLS by default",
			file: TracingConfig{Endpoint: "collector.plant-7:4317", SampleRatio: ptr(0.5)},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "collector.plant-7:4317", Ratio: 0.5}},
		{name: "node file insecure wins over the default",
			file: TracingConfig{Endpoint: "collector:4317", Insecure: ptr(true)},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "collector:4317", Insecure: true, Ratio: 1}},
		{name: "env endpoint wins over the node file",
			file: TracingConfig{Endpoint: "file-host:4317", SampleRatio: ptr(0.5)},
			env:  map[string]string{EnvOTLPEndpoint: "http://env-host:4317"},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "env-host:4317", Insecure: true, Ratio: 0.5}},
		{name: "traces endpoint wins over the generic one",
			env:  map[string]string{EnvOTLPEndpoint: "http://generic:4318", EnvOTLPTracesEndpoint: "http://traces:4318/custom", EnvOTLPProtocol: "http/protobuf"},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolHTTP, Endpoint: "http://traces:4318/custom", Insecure: true, Ratio: 1}},
		{name: "generic http endpoint gets the traces path",
			env:  map[string]string{EnvOTLPEndpoint: "https://otel.example.com/base/", EnvOTLPTracesProtocol: "http/protobuf"},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolHTTP, Endpoint: "https://otel.example.com/base/v1/traces", Ratio: 1}},
		{name: "env exporter none wins over a node file endpoint",
			file: TracingConfig{Exporter: ExporterOTLP, Endpoint: "127.0.0.1:4317"},
			env:  map[string]string{EnvTracesExporter: "none"},
			want: TracingSettings{Exporter: ExporterNone, Ratio: 1}},
		{name: "node file exporter none stays off with an env endpoint",
			file: TracingConfig{Exporter: ExporterNone},
			env:  map[string]string{EnvOTLPEndpoint: "127.0.0.1:4317"},
			want: TracingSettings{Exporter: ExporterNone, Ratio: 1}},
		{name: "console is stdout",
			env:  map[string]string{EnvTracesExporter: "console"},
			want: TracingSettings{Exporter: ExporterStdout, Ratio: 1}},
		{name: "env sampler wins over the node file ratio",
			file: TracingConfig{SampleRatio: ptr(0.5)},
			env:  map[string]string{EnvTracesSampler: "parentbased_traceidratio", EnvTracesSamplerArg: "0.1"},
			want: TracingSettings{Exporter: ExporterNone, Ratio: 0.1}},
		{name: "always_off",
			env:  map[string]string{EnvTracesSampler: "always_off"},
			want: TracingSettings{Exporter: ExporterNone, Ratio: 0}},
		{name: "flag ratio wins over env",
			env:   map[string]string{EnvTracesSampler: "traceidratio", EnvTracesSamplerArg: "0.1"},
			flags: TracingFlags{SampleRatio: ptr(0.01)},
			want:  TracingSettings{Exporter: ExporterNone, Ratio: 0.01}},
		{name: "--otlp host:port is gRPC and wins over env",
			env:   map[string]string{EnvTracesExporter: "none", EnvOTLPEndpoint: "http://env:4318", EnvOTLPProtocol: "http/protobuf"},
			flags: TracingFlags{OTLP: "127.0.0.1:4317"},
			want:  TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "127.0.0.1:4317", Insecure: true, Ratio: 1}},
		{name: "--otlp URL is HTTP",
			flags: TracingFlags{OTLP: "http://localhost:4318"},
			want:  TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolHTTP, Endpoint: "http://localhost:4318/v1/traces", Insecure: true, Ratio: 1}},
		{name: "--otlp wins over OTEL_SDK_DISABLED",
			env:   map[string]string{EnvSDKDisabled: "true"},
			flags: TracingFlags{OTLP: "127.0.0.1:4317"},
			want:  TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "127.0.0.1:4317", Insecure: true, Ratio: 1}},
		{name: "OTEL_SDK_DISABLED turns tracing off",
			file: TracingConfig{Endpoint: "127.0.0.1:4317"},
			env:  map[string]string{EnvSDKDisabled: "true"},
			want: TracingSettings{Exporter: ExporterNone, Ratio: 1}},
		{name: "env insecure=false wins over the loopback default",
			env:  map[string]string{EnvOTLPTracesEndpoint: "localhost:4317", EnvOTLPInsecure: "false"},
			want: TracingSettings{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "localhost:4317", Ratio: 1}},
		{name: "bad sampler argument", env: map[string]string{EnvTracesSampler: "traceidratio", EnvTracesSamplerArg: "2"},
			wantErr: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "unknown sampler", env: map[string]string{EnvTracesSampler: "jaeger_remote"}, wantErr: "OTEL_TRACES_SAMPLER"},
		{name: "unknown exporter", env: map[string]string{EnvTracesExporter: "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "bad flag ratio", flags: TracingFlags{SampleRatio: ptr(1.5)}, wantErr: "--trace-sample"},
		{name: "otlp without endpoint", file: TracingConfig{Exporter: ExporterOTLP}, wantErr: "needs an endpoint"},
		{name: "bad node file protocol", file: TracingConfig{Protocol: "thrift"}, wantErr: "tracing.protocol"},
		{name: "endpoint that is no address", file: TracingConfig{Endpoint: "collector"}, wantErr: "neither host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			got, err := ResolveTracing(tt.file, lookup, tt.flags)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNewTracing(t *testing.T) {
	ctx := context.Background()
	t.Run("off is a no-op provider", func(t *testing.T) {
		tr, err := NewTracing(ctx, TracingSettings{Exporter: ExporterNone, Ratio: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Enabled() {
			t.Error("Enabled with exporter none")
		}
		_, span := tr.TracerProvider().Tracer("t").Start(ctx, "x")
		if span.SpanContext().IsValid() || span.IsRecording() {
			t.Error("the no-op provider made a real span")
		}
		if err := tr.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stdout exports on shutdown", func(t *testing.T) {
		var buf bytes.Buffer
		tr, err := NewTracing(ctx, TracingSettings{Exporter: ExporterStdout, Ratio: 1}, nil, WithStdoutWriter(&buf))
		if err != nil {
			t.Fatal(err)
		}
		_, span := tr.TracerProvider().Tracer("t").Start(ctx, "exported-span")
		span.End()
		if err := tr.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "exported-span") {
			t.Errorf("stdout exporter wrote %q", buf.String())
		}
	})
	t.Run("ratio 0 samples no new trace but follows a sampled parent", func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tr, err := NewTracing(ctx, TracingSettings{Exporter: ExporterNone, Ratio: 0}, nil, WithSpanProcessor(rec))
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Shutdown(ctx)
		tracer := tr.TracerProvider().Tracer("t")
		_, root := tracer.Start(ctx, "root")
		root.End()
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
			TraceFlags: trace.FlagsSampled, Remote: true})
		_, child := tracer.Start(trace.ContextWithRemoteSpanContext(ctx, parent), "child")
		child.End()
		if n := len(rec.Ended()); n != 1 || rec.Ended()[0].Name() != "child" {
			t.Errorf("recorded %d spans; want only the child of the sampled parent", n)
		}
	})
	t.Run("otlp exporter builds without a collector", func(t *testing.T) {
		for _, s := range []TracingSettings{
			{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, Endpoint: "127.0.0.1:1", Insecure: true, Ratio: 1},
			{Exporter: ExporterOTLP, Protocol: ProtocolHTTP, Endpoint: "http://127.0.0.1:1/v1/traces", Insecure: true, Ratio: 1},
		} {
			tr, err := NewTracing(ctx, s, nil)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if !tr.Enabled() {
				t.Errorf("%s: not enabled", s)
			}
			sctx, cancel := context.WithTimeout(ctx, 0)
			_ = tr.Shutdown(sctx) // nothing listens: the error is expected
			cancel()
		}
	})
}

func TestSetupTracingInstallsAndRestoresGlobals(t *testing.T) {
	t.Setenv(EnvTracesExporter, "console")
	for _, k := range []string{EnvOTLPEndpoint, EnvOTLPTracesEndpoint, EnvTracesSampler, EnvSDKDisabled} {
		t.Setenv(k, "")
	}
	before := otel.GetTracerProvider()
	var buf bytes.Buffer
	tr, err := SetupTracing(context.Background(), Config{}, nil, TracingFlags{}, WithStdoutWriter(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != tr.TracerProvider() {
		t.Error("the global tracer provider is not the one set up")
	}
	fields := otel.GetTextMapPropagator().Fields()
	slices.Sort(fields)
	if strings.Join(fields, ",") != "baggage,traceparent,tracestate" {
		t.Errorf("global propagator fields %v", fields)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("Shutdown did not restore the previous global provider")
	}
}
