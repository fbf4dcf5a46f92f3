// Package e2e holds edgeflow's end-to-end tests: the edgeflow binary is built
// with go build and run as separate operating-system processes — an edge node
// (edgeflow run) and a cloud consumer (edgeflow tail) — against the real
// services of internal/tools (Kafka, the Jaeger trace backend), and what comes
// out of them is checked from the outside: readings on standard output, spans
// read back through Jaeger's query API. The package has no code of its own
// besides the tests.
package e2e
