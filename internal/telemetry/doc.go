// Package telemetry sets up OpenTelemetry for edgeflow processes: traces
// exported over OTLP, metrics served to Prometheus, and the W3C trace context
// that follows one reading from its source on an edge node, through Kafka
// headers, into the cloud consumer.
//
// A process describes what it wants in a Config (the telemetry: section of the
// node file, the standard OTEL_* environment variables and command-line flags),
// calls Setup once at start and Shutdown on exit. With tracing off the global
// tracer provider stays a no-op, so instrumented code costs (almost) nothing.
//
// Metrics: NewMetrics makes a meter provider whose instruments, with the Go
// runtime and process collectors, are served in the Prometheus format; Health
// holds the readiness checks (Kafka reachable, pipelines running, consumer
// group joined) behind /healthz and /readyz; an EndpointServer serves the
// three paths on one address (telemetry.metrics.listen, --metrics-addr,
// EDGEFLOW_METRICS_ADDR) and shuts down gracefully.
package telemetry
