// Package pipelines loads pipeline files (YAML), validates them against the stage
// registry, generates their JSON Schema, and runs them: sources feed ordered
// processors that feed sinks, wired with a watermill router and middleware.
// Cross-cutting concerns wrap every stage as middleware: statistics, retries,
// panic recovery and, with WithTracing, OpenTelemetry spans whose context
// travels in message metadata (traceparent, tracestate, baggage) to the sinks.
package pipelines
