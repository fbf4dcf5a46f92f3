package encode

import (
	"math"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// Limits on block_size: a frame holds at least one and at most MaxBlockSize readings.
const (
	DefaultBlockSize = 1000
	MaxBlockSize     = frame.MaxCount
	DefaultMaxAge    = 5 * time.Second
	// DefaultCodec is the default back end. On the reference data sets every
	// back end gives the same size, because a frame is stored untouched when its
	// back end does not shrink it; zstd is kept since it can only help
	// (docs/benchmarks.md).
	DefaultCodec = "zstd"
)

// Config configures the encode processor.
type Config struct {
	Codec    string  `yaml:"codec" doc:"Compression back end after edgeflow's delta transform. none, zlib, lz4 and zstd are lossless unless max_error is set; f32-diff-zlib is the reference article's method (float32 deltas + zlib) and is always lossy." enum:"zlib|lz4|zstd|none|f32-diff-zlib" example:"lz4"`
	Level    int     `yaml:"level" doc:"Back-end compression level; 0 picks the back end's default (zlib 1-9, default 1; lz4 1-9, default fast; zstd 1-22, default 3)." example:"3" advanced:"true"`
	MaxError float64 `yaml:"max_error" doc:"Bounded-error mode: every decoded value is within max_error of the original (absolute, or a fraction of the value when relative is set). 0 keeps frames lossless and bit-exact." example:"0.01"`
	Relative bool    `yaml:"relative" doc:"Read max_error as a fraction of each value's magnitude (0 < max_error < 1) instead of an absolute bound."`
	// BlockSize is the number of readings per frame.
	BlockSize int           `yaml:"block_size" doc:"Readings per frame: a stream's buffer is encoded and emitted when it holds this many (1 to 1048576)." example:"500"`
	MaxAge    time.Duration `yaml:"max_age" doc:"Emit a stream's buffer as a frame once its oldest reading has waited this long, even if it is not full." example:"30s"`
}

// DefaultConfig returns the encode processor's defaults.
func DefaultConfig() *Config {
	return &Config{Codec: DefaultCodec, BlockSize: DefaultBlockSize, MaxAge: DefaultMaxAge}
}

// Validate checks each field and the fields against each other.
func (c *Config) Validate() error {
	codec, err := frame.ParseCodec(c.Codec)
	if err != nil {
		return stages.FieldErrorf("codec", "codec %q unknown (want zlib|lz4|zstd|none|f32-diff-zlib)", c.Codec)
	}
	if lo, hi := levelRange(codec); c.Level != 0 && (c.Level < lo || c.Level > hi) {
		if hi == 0 {
			return stages.FieldErrorf("level", "level %d: codec %s has no levels (leave level at 0)", c.Level, codec)
		}
		return stages.FieldErrorf("level", "level %d out of range for codec %s (want 0 for the default, or %d to %d)", c.Level, codec, lo, hi)
	}
	switch {
	case math.IsNaN(c.MaxError) || math.IsInf(c.MaxError, 0) || c.MaxError < 0:
		return stages.FieldErrorf("max_error", "max_error %v must be a finite number >= 0", c.MaxError)
	case c.MaxError > 0 && codec == frame.CodecF32DiffZlib:
		return stages.FieldErrorf("max_error", "max_error cannot be combined with codec f32-diff-zlib, whose error is fixed by float32 rounding")
	case c.Relative && c.MaxError == 0:
		return stages.FieldErrorf("relative", "relative needs max_error > 0")
	case c.Relative && c.MaxError >= 1:
		return stages.FieldErrorf("max_error", "relative max_error %v must be below 1", c.MaxError)
	}
	if c.BlockSize < 1 || c.BlockSize > MaxBlockSize {
		return stages.FieldErrorf("block_size", "block_size %d out of range (want 1 to %d)", c.BlockSize, MaxBlockSize)
	}
	if c.MaxAge <= 0 {
		return stages.FieldErrorf("max_age", "max_age %v must be positive", c.MaxAge)
	}
	return nil
}

// levelRange is the range of explicit levels a codec accepts; hi 0 means none.
func levelRange(c frame.Codec) (lo, hi int) {
	switch c {
	case frame.CodecZlib, frame.CodecLZ4:
		return 1, 9
	case frame.CodecZstd:
		return 1, 22
	}
	return 0, 0
}

// Options returns the frame encoder options the config describes. Call Validate first.
func (c *Config) Options() (frame.Options, error) {
	codec, err := frame.ParseCodec(c.Codec)
	if err != nil {
		return frame.Options{}, stages.FieldErrorf("codec", "%w", err)
	}
	return frame.Options{Codec: codec, Level: c.Level, MaxError: c.MaxError, RelativeError: c.Relative}, nil
}

// DecodeConfig configures the decode processor.
type DecodeConfig struct {
	// MaxReadings bounds the readings per output message.
	MaxReadings int `yaml:"max_readings" doc:"Readings per output message; a frame holding more is split into several messages. 0 puts each frame's readings in one message." example:"100" advanced:"true"`
}

// DefaultDecodeConfig returns the decode processor's defaults.
func DefaultDecodeConfig() *DecodeConfig { return &DecodeConfig{} }

// Validate checks the decode config.
func (c *DecodeConfig) Validate() error {
	if c.MaxReadings < 0 {
		return stages.FieldErrorf("max_readings", "max_readings %d must be >= 0", c.MaxReadings)
	}
	return nil
}

var (
	_ stages.Config = (*Config)(nil)
	_ stages.Config = (*DecodeConfig)(nil)
)
