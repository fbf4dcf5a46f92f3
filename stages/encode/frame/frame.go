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

// Limits of version 1 frames. A decoder rejects frames beyond them before
// allocating anything, so a frame can never make it allocate more than about
// 16 bytes per value plus the frame's raw body size.
const (
	Version      = 1        // the frame format version this package writes
	MaxFrameSize = 64 << 20 // bytes in one whole frame
	MaxCount     = 1 << 20  // values in one frame
	MaxNameLen   = 1024     // bytes in the node or stream name
)

// frameMagic opens every frame: "EFRM".
var frameMagic = [4]byte{'E', 'F', 'R', 'M'}

// Value transforms, stored in bits 1–3 of the flags byte.
const (
	transformDecimal    uint8 = 0 // decimal-scaled integers, delta coded
	transformGrid       uint8 = 1 // bounded-error grid integers, delta coded (lossy)
	transformXOR        uint8 = 2 // XOR with previous value, byte planes
	transformF32Diff    uint8 = 3 // float32 differences (CodecF32DiffZlib, lossy)
	transformDict       uint8 = 4 // decimal-scaled integers as ranks in the block's sorted distinct integers
	transformDecimalLag uint8 = 5 // decimal-scaled integers coded against the integer one lag back
	transformGridLag    uint8 = 6 // grid integers coded against the integer one lag back (lossy)
)

var transformNames = [...]string{"decimal", "grid", "xor", "f32-diff", "dictionary", "decimal-lag", "grid-lag"}

const (
	flagLossy         = 0x01
	flagTransformMask = 0x0e
	flagReserved      = 0xf0
)
