package file

import "github.com/edgeflow/edgeflow/stages"

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "file",
		Summary: "Replays readings from a CSV or JSON-lines file, paced by a rate or by their timestamps.",
		Description: `Reads readings from a CSV file with a header line or from JSON lines (one reading object,
or a multi-value object, per line; see the reading format), and emits them in messages of up
to batch readings. The format follows the extension unless set.

CSV: a "timestamp,value" file gives the stream named by stream (default: the file name without
extension); several value columns give one stream per column, "stream.column"; a node or
stream column, when present, names each row's node or stream. Files without a timestamp column
can derive times from a sequence column (seq_column, start, interval), as the TelosB data set needs.

Pacing: rate limits readings per second; speedup replays the gaps between timestamps that many
times faster; with both, the slower wins; with neither, the file goes as fast as the pipeline
acknowledges. loop starts over at the end with timestamps shifted past the previous pass.

A line that does not parse is logged as "FILE:LINE: reason", counted, and sent to the pipeline's
dead_letter: sink (skipped without one); the rest keeps flowing. The source moves past a batch
only after the pipeline acknowledged it; a nacked batch is sent again after a short backoff. Readings without a node get the edge node's id.`,
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "Replay a NAB series, one simulated hour per second", YAML: `type: file
path: ../shared/data/nab/ambient_temperature_system_failure.csv
stream: ambient_temperature
speedup: 3600`},
			{Title: "TelosB motes: node per row, times from the sequence column", YAML: `type: file
path: ../shared/data/telosb/multihop.csv
rate: 200
csv:
  seq_column: reading
  start: 2010-01-01T00:00:00Z
  interval: 5s
  node_column: mote_id
  value_columns: [humidity, temperature]
  label_columns: [label]`},
			{Title: "JSON lines, forever", YAML: `type: file
path: /var/lib/edgeflow/replay.jsonl
loop: true
rate: 50`},
		},
	}, defaultSourceConfig, buildSource)

	stages.RegisterSink(stages.Info{
		ID:      "file",
		Summary: "Appends readings as JSON lines and frames as raw bytes to a file.",
		Description: `Appends every message to path, creating missing directories: messages of kind readings
as JSON lines (checked and written in canonical form, values bit-exact), messages of kind frame
as the frame's bytes, which are self-delimiting (see docs/frame-format.md), so a file of frames
can be read back frame by frame. A pipeline usually sends one kind to a file.

A write is all-or-nothing: a malformed message fails the whole batch (the messages are nacked)
and a failed write is cut back so no partial record stays. fsync chooses durability: after
every write (default), at most every fsync_interval, or never.`,
		Consumes: []string{stages.KindReadings, stages.KindFrame},
		Examples: []stages.Example{
			{Title: "Keep readings on the node", YAML: `type: file
path: /var/lib/edgeflow/readings.jsonl`},
			{Title: "Archive encoded frames, synced once a second", YAML: `type: file
path: /var/lib/edgeflow/frames.bin
fsync: interval
fsync_interval: 1s`},
		},
	}, defaultSinkConfig, buildSink)
}
