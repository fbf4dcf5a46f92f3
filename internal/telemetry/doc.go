// Package telemetry sets up OpenTelemetry for edgeflow processes: traces
// exported over OTLP, metrics served to Prometheus, and the W3C trace context
// that follows one reading from its source on an edge node, through Kafka
// headers, into the cloud consumer.
//
// A process describes what it wants in a Config (the telemetry: section of the
// node file, the standard OTEL_* environment variables and command-line flags),
// and sets each part up once at start, shutting it down on exit.
//
// Traces: ResolveTracing combines the node file's tracing section, the
// environment and the flags (TracingFlags) into TracingSettings; NewTracing
// builds the tracer provider (parent-based ratio sampler, batch span processor,
// OTLP gRPC/HTTP or stdout exporter) and SetupTracing also installs it and the
// W3C propagator as the globals; Shutdown flushes what is buffered. With
// tracing off the provider is a no-op, so instrumented code costs (almost)
// nothing. InjectMetadata and ExtractMetadata move the trace context in and out
// of message metadata (traceparent, tracestate, baggage), which the Kafka bus
// carries as record headers.
//
// Metrics: NewMetrics makes a meter provider whose instruments, with the Go
// runtime and process collectors, are served in the Prometheus format; Health
// holds the readiness checks (Kafka reachable, pipelines running, consumer
// group joined) behind /healthz and /readyz; an EndpointServer serves the
// three paths on one address (telemetry.metrics.listen, --metrics-addr,
// EDGEFLOW_METRICS_ADDR) and shuts down gracefully.
package telemetry
