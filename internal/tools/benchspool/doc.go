// Package benchspool compares embedded stores for edgeflow's durable spool
// (edge/spool): bbolt, pebble and SQLite (modernc.org/sqlite, pure Go). Each
// benchmark round appends a batch of ~1 KB frames durably (fsync or commit per
// batch), reads the oldest batch back in order and deletes it durably, on a
// store that already holds a backlog, the spool's steady state while a link is
// slow. It is a separate module so the stores that lose stay out of edgeflow's
// go.mod; run it with
//
//	cd internal/tools/benchspool && go test -bench . -benchtime 3s
//
// The results and the choice are in docs/benchmarks.md and docs/reliability.md.
package benchspool
