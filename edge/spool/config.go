package spool

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
)

// Policy says what Append does when the spool is full.
type Policy string

const (
	// PolicyBlock makes Append wait until the forwarder made room (or its
	// context ends): back-pressure to the source, nothing lost.
	PolicyBlock Policy = "block"
	// PolicyDropOldest deletes the oldest messages to make room, counting them.
	PolicyDropOldest Policy = "drop_oldest"
)

// Defaults of Config.
const (
	DefaultMaxBytes      = 512 << 20
	DefaultMaxMessages   = 1_000_000
	DefaultMaxAge        = 24 * time.Hour
	DefaultWhenFull      = PolicyBlock
	DefaultBatchMessages = 100
	DefaultBatchBytes    = 4 << 20
	DefaultRetryMaxWait  = time.Second
	DefaultDrainTimeout  = 5 * time.Second
	// RetryFirstWait is the first wait after a failed forward; it doubles up to
	// Config.RetryMaxWait.
	RetryFirstWait = 50 * time.Millisecond
)

// Config bounds a spool and tunes its forwarder. It is the spool: block of a
// pipeline sink entry.
type Config struct {
	MaxBytes    ByteSize      `yaml:"max_bytes" doc:"Most bytes of messages (payload, metadata and UUID) the spool keeps; then when_full applies. Accepts units: 512MiB, 2GB." example:"512MiB"`
	MaxMessages int           `yaml:"max_messages" doc:"Most messages the spool keeps; then when_full applies."`
	MaxAge      time.Duration `yaml:"max_age" doc:"Messages older than this are deleted unsent and counted (edgeflow_spool_dropped_total{reason=\"expired\"}). 0 keeps them until there is no room."`
	WhenFull    Policy        `yaml:"when_full" doc:"What a write does when the spool is full: block waits for room (back-pressure to the source, nothing lost); drop_oldest deletes the oldest messages and counts them." enum:"block|drop_oldest"`
	// BatchMessages and BatchBytes bound one forwarded batch.
	BatchMessages int           `yaml:"batch_messages" doc:"Most messages the forwarder hands to the sink in one Write." advanced:"true"`
	BatchBytes    ByteSize      `yaml:"batch_bytes" doc:"Most bytes the forwarder hands to the sink in one Write (at least one message)." advanced:"true"`
	RetryMaxWait  time.Duration `yaml:"retry_max_wait" doc:"Longest wait between two attempts while the sink fails (the wait doubles from 50ms up to this). A sink that can probe its link (kafka: a metadata request) is probed every 500ms meanwhile, and sending starts again as soon as it answers; for other sinks this is the time it takes at most to notice that the link is back." advanced:"true"`
	DrainTimeout  time.Duration `yaml:"drain_timeout" doc:"When the pipeline stops, how long the forwarder may keep sending what the spool holds; what is left is sent after the next start." advanced:"true"`
}

// DefaultConfig returns a Config with every default set.
func DefaultConfig() *Config {
	return &Config{
		MaxBytes:      DefaultMaxBytes,
		MaxMessages:   DefaultMaxMessages,
		MaxAge:        DefaultMaxAge,
		WhenFull:      DefaultWhenFull,
		BatchMessages: DefaultBatchMessages,
		BatchBytes:    DefaultBatchBytes,
		RetryMaxWait:  DefaultRetryMaxWait,
		DrainTimeout:  DefaultDrainTimeout,
	}
}

// Validate checks the fields and names the offending one.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxBytes <= 0 {
		errs = append(errs, stages.FieldErrorf("max_bytes", "max_bytes must be positive, got %d", c.MaxBytes))
	}
	if c.MaxMessages <= 0 {
		errs = append(errs, stages.FieldErrorf("max_messages", "max_messages must be positive, got %d", c.MaxMessages))
	}
	if c.MaxAge < 0 {
		errs = append(errs, stages.FieldErrorf("max_age", "max_age must not be negative, got %s", c.MaxAge))
	}
	if c.WhenFull != PolicyBlock && c.WhenFull != PolicyDropOldest {
		errs = append(errs, stages.FieldErrorf("when_full", "when_full must be %s or %s, got %q", PolicyBlock, PolicyDropOldest, c.WhenFull))
	}
	if c.BatchMessages <= 0 {
		errs = append(errs, stages.FieldErrorf("batch_messages", "batch_messages must be positive, got %d", c.BatchMessages))
	}
	if c.BatchBytes <= 0 {
		errs = append(errs, stages.FieldErrorf("batch_bytes", "batch_bytes must be positive, got %d", c.BatchBytes))
	}
	if c.RetryMaxWait < RetryFirstWait {
		errs = append(errs, stages.FieldErrorf("retry_max_wait", "retry_max_wait must be at least %s, got %s", RetryFirstWait, c.RetryMaxWait))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, stages.FieldErrorf("drain_timeout", "drain_timeout must not be negative, got %s", c.DrainTimeout))
	}
	return errors.Join(errs...)
}

// ByteSize is a number of bytes; in YAML an integer or a string with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseByteSize parses "512MiB", "2GB", "1000" (bytes).
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size such as 512MiB, 2GB or a number of bytes, got %q", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalYAML accepts an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 512MiB", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// String formats b with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for i := 3; i >= 0; i-- {
		u := byteUnits[i]
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalYAML writes b as String does, so that it reads back the same.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }
