package encode

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func init() {
	stages.RegisterProcessor(stages.Info{
		ID:      "encode",
		Summary: "batch readings per stream into compressed frames",
		Description: "Buffers each (node, stream) pair's readings as columns of timestamps and values and " +
			"emits one frame (docs/frame-format.md) when a buffer holds `block_size` readings, when its oldest " +
			"reading is older than `max_age`, or when the pipeline drains. Frames are lossless and bit-exact " +
			"(NaN, ±Inf and -0 included) unless `max_error` is set or the codec is `f32-diff-zlib`. Each " +
			"stream's frames are numbered in the `" + stages.MetaSeq + "` metadata, from 1, increasing across " +
			"restarts when the node has a data dir (reservations in DATA_DIR/encode/PIPELINE.seq.json; a restart may skip numbers, never reuses them).",
		Consumes: []string{stages.KindReadings},
		Produces: []string{stages.KindFrame},
		Examples: []stages.Example{
			{Title: "Lossless frames of 1000 readings with zstd", YAML: "encode:\n  codec: zstd\n  block_size: 1000\n  max_age: 5s\n"},
			{Title: "Bounded error of 0.01 with lz4, for slow links", YAML: "encode:\n  codec: lz4\n  max_error: 0.01\n"},
		},
	}, DefaultConfig, func(ctx context.Context, cfg *Config, env stages.Env) (stages.Processor, error) {
		return NewEncoder(cfg, env)
	})
}

// Encoder is the encode processor. It is safe for concurrent use.
type Encoder struct {
	cfg    Config
	env    stages.Env
	frames *frame.Encoder
	seqs   *SeqStore // per-stream sequence numbers, durable under the node's data dir
	now    func() time.Time

	mu      sync.Mutex
	buffers map[streamKey]*streamBuffer
	// oldest is the earliest start among non-empty buffers (zero when all are
	// empty), so Process scans buffers for max_age only when one may have expired.
	oldest  time.Time
	scratch []reading.Reading
	// watermark caches Watermark while watermarkValid; emitting a block
	// invalidates it.
	watermark      uint64
	watermarkValid bool
	input          uint64 // number of the input being processed (stages.InputSeq)
}

type streamKey struct{ node, stream string }

// streamBuffer holds one stream's pending readings as two columns: 16 bytes per
// reading and no per-reading heap objects.
type streamBuffer struct {
	key        streamKey
	timestamps []int64   // Unix nanoseconds
	values     []float64 // as received
	started    time.Time // wall time the first pending reading arrived
	firstInput uint64    // number of the input the first pending reading came with (stages.InputSeq)
	lastSeq    uint64    // sequence number of the last frame emitted
}

// NewEncoder builds an encode processor from a validated config.
func NewEncoder(cfg *Config, env stages.Env) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.Options()
	if err != nil {
		return nil, err
	}
	fe, err := frame.NewEncoder(opts)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	seqs, err := openEncoderSeqStore(env)
	if err != nil {
		return nil, err
	}
	return &Encoder{cfg: *cfg, env: env, frames: fe, seqs: seqs, now: time.Now, buffers: map[streamKey]*streamBuffer{}}, nil
}

// Process buffers the readings of a KindReadings message and returns the frames
// that became due: full blocks, and blocks older than max_age. A payload that does
// not parse is rejected whole with a stages.Malformed error (the runtime moves
// it to the dead-letter sink) and leaves every buffer as it was. A block the
// frame encoder refuses (it cannot for blocks within the frame limits) is
// logged and dropped rather than failing the message, whose readings are
// already buffered.
func (e *Encoder) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	if kind := msg.Metadata.Get(stages.MetaKind); kind != stages.KindReadings {
		return nil, fmt.Errorf("encode: message %s has kind %q, want %q", msg.UUID, kind, stages.KindReadings)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	e.scratch, err = reading.DecodePayload(msg.Payload, e.scratch[:0])
	if err != nil {
		return nil, stages.Malformed(fmt.Errorf("encode: message %s: %w", msg.UUID, err))
	}
	defaultNode := msg.Metadata.Get(stages.MetaNode)
	if defaultNode == "" {
		defaultNode = e.env.Node.ID
	}
	// Check every reading before buffering any, so a bad message changes nothing.
	for i := range e.scratch {
		r := &e.scratch[i]
		if r.Stream == "" {
			return nil, stages.Malformed(fmt.Errorf("encode: message %s: reading %d: stream is empty", msg.UUID, i+1))
		}
		if len(r.Stream) > frame.MaxNameLen || len(r.Node) > frame.MaxNameLen || len(defaultNode) > frame.MaxNameLen {
			return nil, stages.Malformed(fmt.Errorf("encode: message %s: reading %d: node or stream name longer than %d bytes", msg.UUID, i+1, frame.MaxNameLen))
		}
		if !inNanoRange(r.Time) {
			return nil, stages.Malformed(fmt.Errorf("encode: message %s: reading %d (stream %q): timestamp %s outside the years 1678-2262 that Unix nanoseconds can hold",
				msg.UUID, i+1, r.Stream, r.Time.Format(time.RFC3339)))
		}
	}
	now := e.now()
	e.input, _ = stages.InputSeq(ctx)
	var out []*message.Message
	for i := range e.scratch {
		r := &e.scratch[i]
		node := r.Node
		if node == "" {
			node = defaultNode
		}
		if b := e.add(node, r.Stream, r.Time.UnixNano(), r.Value, now); b != nil {
			if m := e.emit(b); m != nil {
				out = append(out, m)
			}
		}
	}
	if !e.oldest.IsZero() && now.Sub(e.oldest) >= e.cfg.MaxAge {
		out = append(out, e.flushLocked(func(b *streamBuffer) bool { return now.Sub(b.started) >= e.cfg.MaxAge })...)
	}
	return out, nil
}

// Flush emits frames, in (node, stream) order: with stages.FlushDue only for
// blocks older than max_age (a periodic flush must not cut busy streams' blocks
// short: small frames compress worse), with stages.FlushAll for every non-empty
// buffer. It never fails: see Process for blocks the frame encoder refuses.
func (e *Encoder) Flush(ctx context.Context, mode stages.FlushMode) ([]*message.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if mode == stages.FlushDue {
		now := e.now()
		if e.oldest.IsZero() || now.Sub(e.oldest) < e.cfg.MaxAge {
			return nil, nil
		}
		return e.flushLocked(func(b *streamBuffer) bool { return now.Sub(b.started) >= e.cfg.MaxAge }), nil
	}
	// Streams that stayed silent since the last flush give their columns back;
	// only their sequence numbers are kept.
	for _, b := range e.buffers {
		if len(b.timestamps) == 0 {
			b.timestamps, b.values = nil, nil
		}
	}
	return e.flushLocked(func(*streamBuffer) bool { return true }), nil
}

// Watermark implements stages.Watermarker: the lowest input number among the
// first readings of the blocks being filled (every reading of an input numbered
// below it is in a frame already returned), or stages.NoWatermark when every
// buffer is empty. Acknowledging an input therefore waits until the blocks it
// added to are emitted: at most max_age (plus the runtime's flush interval).
func (e *Encoder) Watermark() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.watermarkValid {
		e.watermark = stages.NoWatermark
		for _, b := range e.buffers {
			if len(b.timestamps) > 0 {
				e.watermark = min(e.watermark, b.firstInput)
			}
		}
		e.watermarkValid = true
	}
	return e.watermark
}

// Buffered reports how many readings are waiting in buffers.
func (e *Encoder) Buffered() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, b := range e.buffers {
		n += len(b.timestamps)
	}
	return n
}

func (e *Encoder) flushLocked(due func(*streamBuffer) bool) []*message.Message {
	var pending []*streamBuffer
	for _, b := range e.buffers {
		if len(b.timestamps) > 0 && due(b) {
			pending = append(pending, b)
		}
	}
	slices.SortFunc(pending, func(a, b *streamBuffer) int {
		if a.key.node != b.key.node {
			return strings.Compare(a.key.node, b.key.node)
		}
		return strings.Compare(a.key.stream, b.key.stream)
	})
	var out []*message.Message
	for _, b := range pending {
		if m := e.emit(b); m != nil {
			out = append(out, m)
		}
	}
	e.oldest = time.Time{}
	for _, b := range e.buffers {
		if len(b.timestamps) > 0 && (e.oldest.IsZero() || b.started.Before(e.oldest)) {
			e.oldest = b.started
		}
	}
	return out
}

// add appends one reading to its stream's buffer (the hot path: no allocation once
// the buffer exists) and returns the buffer when it is full.
func (e *Encoder) add(node, stream string, ts int64, v float64, now time.Time) *streamBuffer {
	b := e.buffer(streamKey{node, stream})
	if len(b.timestamps) == 0 {
		b.started = now
		b.firstInput = e.input
		if e.watermarkValid {
			e.watermark = min(e.watermark, e.input)
		}
		if e.oldest.IsZero() {
			e.oldest = now
		}
	}
	b.timestamps = append(b.timestamps, ts)
	b.values = append(b.values, v)
	if len(b.timestamps) >= e.cfg.BlockSize {
		return b
	}
	return nil
}

func (e *Encoder) buffer(k streamKey) *streamBuffer {
	b, ok := e.buffers[k]
	if !ok {
		b = &streamBuffer{key: k}
		e.buffers[k] = b
	}
	if b.timestamps == nil {
		// Up to 4096 readings are allocated at once; bigger blocks grow by
		// append, whose spare capacity stays under 25% at that size.
		capacity := min(e.cfg.BlockSize, 4096)
		b.timestamps, b.values = make([]int64, 0, capacity), make([]float64, 0, capacity)
	}
	return b
}

// emit encodes b's pending readings as the stream's next frame and empties b.
// A block that cannot be encoded is logged and dropped (nil) so that it cannot
// block the stream forever.
func (e *Encoder) emit(b *streamBuffer) *message.Message {
	seq := e.nextSeq(b.key)
	block := frame.Block{Node: b.key.node, Stream: b.key.stream, Seq: seq, Timestamps: b.timestamps, Values: b.values}
	payload, err := e.frames.Encode(nil, &block)
	n := len(b.timestamps)
	b.timestamps, b.values = b.timestamps[:0], b.values[:0]
	e.watermarkValid = false
	b.lastSeq = seq
	if err != nil {
		e.env.Log().Error("encode: dropping a block the frame encoder refused",
			"node", b.key.node, "stream", b.key.stream, "readings", n, "err", err)
		return nil
	}
	m := message.NewMessage(watermill.NewUUID(), payload)
	m.Metadata.Set(stages.MetaKind, stages.KindFrame)
	m.Metadata.Set(stages.MetaNode, b.key.node)
	m.Metadata.Set(stages.MetaStream, b.key.stream)
	m.Metadata.Set(stages.MetaSeq, strconv.FormatUint(seq, 10))
	if e.env.Pipeline != "" {
		m.Metadata.Set(stages.MetaPipeline, e.env.Pipeline)
	}
	return m
}

// inNanoRange reports whether t.UnixNano is exact.
func inNanoRange(t time.Time) bool {
	return !t.Before(minNano) && !t.After(maxNano)
}

var (
	minNano = time.Unix(0, math.MinInt64)
	maxNano = time.Unix(0, math.MaxInt64)
)

var (
	_ stages.Processor   = (*Encoder)(nil)
	_ stages.Flusher     = (*Encoder)(nil)
	_ stages.Watermarker = (*Encoder)(nil)
)
