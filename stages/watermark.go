package stages

import "context"

// Watermarker is implemented by buffering processors (see Flusher) that can say
// which inputs they still hold data of. The runtime numbers every source message
// it hands to the processor chain, in processing order, from 1 (see InputSeq);
// Watermark returns W such that every input numbered below W has left the stage
// completely: all its data is in messages the stage already returned. A stage
// holding no data returns NoWatermark.
//
// The runtime acknowledges a source message only once the stages' watermarks
// passed its number and the output holding its data was written by every sink.
// A buffering stage that does not implement Watermarker lets its inputs be
// acknowledged as soon as they are buffered (in memory only).
type Watermarker interface {
	Watermark() uint64
}

// NoWatermark is what Watermarker.Watermark returns when the stage holds no data.
const NoWatermark = ^uint64(0)

type inputSeqKey struct{}

// WithInputSeq returns ctx carrying the number of the input a processor is
// handling; the runtime sets it for every call of Process and Flush (for Flush
// and for what a flush passes on: the lowest number whose data may be in it).
func WithInputSeq(ctx context.Context, seq uint64) context.Context {
	return context.WithValue(ctx, inputSeqKey{}, seq)
}

// InputSeq returns the input number carried by ctx (see WithInputSeq), or false
// when ctx carries none (a stage used outside a pipeline runtime).
func InputSeq(ctx context.Context) (uint64, bool) {
	seq, ok := ctx.Value(inputSeqKey{}).(uint64)
	return seq, ok
}
