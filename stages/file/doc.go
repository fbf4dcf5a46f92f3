// Package file holds the "file" source and the "file" sink. The source replays a
// CSV or JSON-lines file of readings into a pipeline, in batches, optionally
// paced by a rate or by the readings' own timestamps and looped; bad lines are
// logged as FILE:LINE and skipped, and it moves on only once the pipeline
// acknowledged a batch. The sink appends what reaches it to a file: readings as
// JSON lines, encoded frames as their raw self-delimiting bytes.
package file
