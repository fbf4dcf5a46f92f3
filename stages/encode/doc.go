// Package encode provides the "encode" processor, which batches readings into
// compressed frames, and the "decode" processor, which turns frames back into
// readings. The encoder decodes each readings message (JSON lines), appends every
// reading to a per-(node, stream) buffer held as two columns (Unix-nanosecond
// timestamps and float64 values), and emits one frame message (package frame) when
// a buffer reaches block_size readings, when its oldest reading is older than
// max_age, or when the runtime calls Flush. Each stream's frames carry sequence
// numbers counting up from 1. The decoder does the reverse for cloud-side
// pipelines: one frame message in, one readings message out.
package encode
