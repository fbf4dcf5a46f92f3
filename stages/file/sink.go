package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// SinkConfig configures the file sink.
type SinkConfig struct {
	Path          string        `yaml:"path" doc:"File to append to; missing directories are created." required:"true" example:"/var/lib/edgeflow/readings.jsonl"`
	Fsync         string        `yaml:"fsync" doc:"When to flush the file to stable storage: after every write (safest), at the first write after fsync_interval (and on close), or never (left to the OS)." enum:"write|interval|never"`
	FsyncInterval time.Duration `yaml:"fsync_interval" doc:"With fsync: interval, the longest time written data may stay unsynced while writes go on."`
}

func defaultSinkConfig() *SinkConfig {
	return &SinkConfig{Fsync: "write", FsyncInterval: time.Second}
}

// Validate checks the config and names the bad field.
func (c *SinkConfig) Validate() error {
	if c.Path == "" {
		return stages.FieldErrorf("path", "path is empty: name the file to write")
	}
	if !slices.Contains([]string{"write", "interval", "never"}, c.Fsync) {
		return stages.FieldErrorf("fsync", "fsync %q unknown (want write|interval|never)", c.Fsync)
	}
	if c.Fsync == "interval" && c.FsyncInterval <= 0 {
		return stages.FieldErrorf("fsync_interval", "fsync_interval %v must be positive", c.FsyncInterval)
	}
	return nil
}

// Sink appends readings as JSON lines and frames as raw bytes to one file.
type Sink struct {
	cfg *SinkConfig

	mu       sync.Mutex
	f        *os.File
	size     int64 // bytes in the file after the last complete write
	lastSync time.Time
	dirty    bool
	buf      []byte
	rs       []reading.Reading
}

func buildSink(_ context.Context, cfg *SinkConfig, _ stages.Env) (stages.Sink, error) {
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, stages.FieldErrorf("path", "%w", err)
		}
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, stages.FieldErrorf("path", "%w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &Sink{cfg: cfg, f: f, size: fi.Size(), lastSync: time.Now()}, nil
}

// Write appends msgs in order: readings (kind readings) re-encoded as JSON lines,
// frames (kind frame) as their raw bytes, which are self-delimiting. A malformed
// message fails the whole write and nothing of it is kept.
func (s *Sink) Write(ctx context.Context, msgs []*message.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("file sink: write after close")
	}
	buf := s.buf[:0]
	for _, msg := range msgs {
		switch kind := msg.Metadata.Get(stages.MetaKind); kind {
		case stages.KindReadings:
			var err error
			s.rs, err = reading.DecodePayload(msg.Payload, s.rs[:0])
			if err != nil {
				return fmt.Errorf("file sink: message %s: %w", msg.UUID, err)
			}
			buf = reading.AppendJSONLines(buf, s.rs)
		case stages.KindFrame:
			n, err := frame.FrameLen(msg.Payload)
			if err != nil {
				return fmt.Errorf("file sink: message %s: %w", msg.UUID, err)
			}
			if n != len(msg.Payload) {
				return fmt.Errorf("file sink: message %s: payload of %d bytes holds a frame of %d bytes: %w", msg.UUID, len(msg.Payload), n, frame.ErrCorrupt)
			}
			buf = append(buf, msg.Payload...)
		default:
			return fmt.Errorf("file sink: message %s: payload kind %q unknown (want %s or %s)", msg.UUID, kind, stages.KindReadings, stages.KindFrame)
		}
	}
	s.buf = buf
	if len(buf) == 0 {
		return nil
	}
	if _, err := s.f.Write(buf); err != nil {
		// Leave no partial record behind.
		if terr := s.f.Truncate(s.size); terr != nil {
			err = errors.Join(err, fmt.Errorf("undoing partial write: %w", terr))
		}
		return fmt.Errorf("file sink: %s: %w", s.cfg.Path, err)
	}
	s.size += int64(len(buf))
	s.dirty = true
	if s.cfg.Fsync == "write" || (s.cfg.Fsync == "interval" && time.Since(s.lastSync) >= s.cfg.FsyncInterval) {
		if err := s.sync(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) sync() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file sink: fsync %s: %w", s.cfg.Path, err)
	}
	s.dirty = false
	s.lastSync = time.Now()
	return nil
}

// Close syncs unless fsync is never, and closes the file. It is idempotent.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	var err error
	if s.dirty && s.cfg.Fsync != "never" {
		err = s.sync()
	}
	if cerr := s.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("file sink: %w", cerr)
	}
	s.f = nil
	return err
}

var (
	_ stages.Sink   = (*Sink)(nil)
	_ stages.Closer = (*Sink)(nil)
)
