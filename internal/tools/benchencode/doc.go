// Command benchencode measures edgeflow's frame codec on the reference data sets
// (NAB and TelosB in ../shared/data) against the reference article's method
// (float32 differences + zlib), zlib and zstd on raw float64 bytes, and
// Prometheus' Gorilla XOR chunks: bits per value, ratios, bit-exactness (or
// maximum error), the order-0 entropy bound of the scaled value deltas, and
// single-core encode and decode speed. It prints a Markdown table and, with
// -doc, rewrites the encode section of docs/benchmarks.md. It is a separate Go
// module so that the Prometheus dependency stays out of edgeflow's go.mod; run
// it with "make bench-encode".
package main
