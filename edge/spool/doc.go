// Package spool is edgeflow's durable store-and-forward queue on an edge node.
//
// A Spool keeps messages (payload, metadata and UUID) in one bbolt file under
// the node's data directory, one per pipeline sink. Append returns once its
// messages are durable on disk (the bbolt transaction that holds them was
// fsynced); a forwarder goroutine reads the oldest messages in batches, in the
// order they were appended, writes them to the wrapped stages.Sink and deletes
// them once that Write succeeded. When a Write fails the forwarder retries the
// same batch after a backoff that doubles up to Config.RetryMaxWait (1s by
// default), so it notices a link that came back within that time, and it
// wakes at once when new data arrives while idle.
//
// The spool is bounded by Config.MaxBytes, MaxMessages and MaxAge. When full,
// Config.WhenFull decides: PolicyBlock makes Append wait for room (back-pressure
// to the source, until its context ends), PolicyDropOldest deletes the oldest
// messages to make room and counts them. Messages older than MaxAge are
// deleted unsent and counted. The depth is exported as edgeflow_spool_depth and
// the drops as edgeflow_spool_dropped_total. Memory does not grow with the
// backlog: the forwarder reads one batch at a time from disk.
//
// A Spool opened on a file left by a process that crashed or was killed
// resumes forwarding what it holds; messages being forwarded at the time of
// the crash may be written again (at-least-once). Sink wraps a stages.Sink so
// that its Write means "durable in the spool"; pipelines use it for a sink
// entry with a spool: block.
package spool
