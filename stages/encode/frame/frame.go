package frame

import (
	"errors"
	"fmt"
)

// API sketch fixed for the rest of edgeflow; the implementation may change freely
// behind it.

// Codec selects the value transform and entropy back end of a frame.
type Codec uint8

const (
	CodecNone        Codec = 0 // edgeflow transform, no entropy back end
	CodecZlib        Codec = 1 // edgeflow transform + zlib (compress/zlib)
	CodecLZ4         Codec = 2 // edgeflow transform + lz4 (github.com/pierrec/lz4/v4)
	CodecZstd        Codec = 3 // edgeflow transform + zstd (github.com/klauspost/compress/zstd)
	CodecF32DiffZlib Codec = 4 // the reference article's method: float32 diff + zlib 6. LOSSY.
)

// ParseCodec parses "none", "zlib", "lz4", "zstd" or "f32-diff-zlib".
func ParseCodec(s string) (Codec, error) {
	for c, name := range codecNames {
		if name == s {
			return Codec(c), nil
		}
	}
	return 0, fmt.Errorf("codec %q unknown (want zlib|lz4|zstd|none|f32-diff-zlib)", s)
}

var codecNames = []string{"none", "zlib", "lz4", "zstd", "f32-diff-zlib"}

func (c Codec) String() string {
	if int(c) < len(codecNames) {
		return codecNames[c]
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// Block is the decoded content of one frame: one stream's readings in time order.
type Block struct {
	Node       string
	Stream     string
	Seq        uint64    // per (node, stream) sequence number, starting at 0 or 1
	Timestamps []int64   // Unix nanoseconds, same length as Values
	Values     []float64 // bit-exact unless the frame is lossy
}

// Options configure an Encoder.
type Options struct {
	Codec Codec
	Level int // back-end level; 0 means the back end's default
	// MaxError > 0 switches to bounded-error mode: every decoded value v' satisfies
	// |v'-v| <= MaxError (absolute), or <= MaxError*|v| when RelativeError is set.
	MaxError      float64
	RelativeError bool
}

// Header is the fixed part of a frame, readable without decoding the payload.
type Header struct {
	Version        uint8
	Codec          Codec
	Lossy          bool
	Node           string
	Stream         string
	Seq            uint64
	FirstTimestamp int64
	Count          int
}

// ErrCorrupt is wrapped by every error about a malformed, truncated or tampered frame.
var ErrCorrupt = errors.New("corrupt frame")
