package stages

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Message metadata keys shared by all stages.
const (
	// MetaKind says what a message payload holds: KindReadings, KindFrame,
	// KindImage or KindInference.
	MetaKind = "edgeflow-kind"
	// MetaNode is the id of the edge node that produced the data.
	MetaNode = "edgeflow-node"
	// MetaStream is the stream (sensor) name, set on frames.
	MetaStream = "edgeflow-stream"
	// MetaSeq is the per-stream frame sequence number, set on frames.
	MetaSeq = "edgeflow-seq"
	// MetaPipeline is the name of the pipeline that produced the message.
	MetaPipeline = "edgeflow-pipeline"
	// MetaImageName is the name of the picture an image message holds (the file
	// name for the images source, the client's name for one POSTed over HTTP).
	MetaImageName = "edgeflow-image-name"
)

// Payload kinds, the values of MetaKind.
const (
	// KindReadings: the payload is one or more readings as JSON lines (package reading).
	KindReadings = "readings"
	// KindFrame: the payload is one encoded frame (docs/frame-format.md).
	KindFrame = "frame"
	// KindImage: the payload is one encoded picture (JPEG, PNG or BMP), as a file
	// holds it.
	KindImage = "image"
	// KindInference: the payload is one JSON result of a model run by the detect
	// stage (docs/detect.md).
	KindInference = "inference"
)

// ErrNacked is returned by an EmitFunc when the pipeline rejected the message.
var ErrNacked = errors.New("message nacked by pipeline")

// EmitFunc hands one message to the pipeline and blocks until the pipeline is done
// with it: nil once it was acknowledged (written by every sink), ErrNacked (possibly
// wrapped) if it was rejected, or ctx.Err() if ctx ended first.
type EmitFunc func(ctx context.Context, msg *message.Message) error

// Source produces messages. Read calls emit for each message and returns when the
// input is exhausted (nil), ctx is done (ctx.Err()), or it fails. A source only
// advances past a message (acknowledges it to its own producer, moves a file
// offset, answers an HTTP request) after emit returned nil.
type Source interface {
	Read(ctx context.Context, emit EmitFunc) error
}

// Processor transforms one message. An error Nacks the input message (the source
// may redeliver it); returning zero messages filters it out; returning several fans
// out. Processors may be called from several goroutines unless the runtime is told
// otherwise; the runtime currently serialises calls per pipeline.
type Processor interface {
	Process(ctx context.Context, msg *message.Message) ([]*message.Message, error)
}

// FlushMode says how much a Flusher emits.
type FlushMode int

const (
	// FlushDue is the periodic flush: emit only what the stage's own policy says
	// is due (for the encoder: blocks older than max_age), so that quiet streams
	// still get out without cutting busy streams' blocks short.
	FlushDue FlushMode = iota
	// FlushAll is the final flush when a pipeline drains: emit everything buffered.
	FlushAll
)

// Flusher is implemented by processors that buffer (the encoder batches readings
// into frames). The runtime calls Flush(ctx, FlushDue) periodically and
// Flush(ctx, FlushAll) once when draining, and passes what it returns on to the
// next stages.
type Flusher interface {
	Flush(ctx context.Context, mode FlushMode) ([]*message.Message, error)
}

// Sink writes messages out. Write returns nil only once every message is delivered
// as far as the sink can tell (for Kafka: acknowledged by all in-sync replicas).
type Sink interface {
	Write(ctx context.Context, msgs []*message.Message) error
}

// Closer is implemented by stages holding resources. Close must be idempotent.
type Closer interface {
	Close() error
}

// Config is a stage's typed configuration. Validate checks fields against each
// other and names the offending field in its error.
type Config interface {
	Validate() error
}

// Node describes the edge node a pipeline runs on. It is filled by package edge
// from flags, environment variables or a node file.
type Node struct {
	ID      string            `yaml:"id" json:"id"`
	Labels  map[string]string `yaml:"labels" json:"labels,omitempty"`
	Brokers []string          `yaml:"brokers" json:"brokers,omitempty"`
	DataDir string            `yaml:"data_dir" json:"data_dir,omitempty"`
}

// Env is what a stage's build function gets besides its config.
type Env struct {
	Node     Node
	Pipeline string       // pipeline name
	Logger   *slog.Logger // never nil when built by the loader
	// DeadLetters is where inputs that cannot be parsed go (see Env.DeadLetter);
	// the runtime sets it for every step.
	DeadLetters DeadLetterFunc
}

// Log returns e.Logger or a discarding logger.
func (e Env) Log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}
