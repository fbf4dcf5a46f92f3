// Package telemetry sets up OpenTelemetry for edgeflow processes: traces
// exported over OTLP, metrics served to Prometheus, and the W3C trace context
// that follows one reading from its source on an edge node, through Kafka
// headers, into the cloud consumer.
//
// A process describes what it wants in a Config (the telemetry: section of the
// node file, the standard OTEL_* environment variables and command-line flags),
// calls Setup once at start and Shutdown on exit. With tracing off the global
// tracer provider stays a no-op, so instrumented code costs (almost) nothing.
package telemetry
