// Package docsection rewrites the generated part of a Markdown page: the text
// between a begin and an end marker, which edgeflow's benchmark tools
// (make bench-fedavg, bench-fl-anomaly, bench-schedule) regenerate in
// docs/benchmarks.md while the prose around it stays as written.
package docsection
