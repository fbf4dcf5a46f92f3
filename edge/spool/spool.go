package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/edgeflow/edgeflow/stages"
)

// ErrClosed is returned by Append on a closed spool.
var ErrClosed = errors.New("spool closed")

// ErrTooLarge is returned (wrapped) by Append for a batch that could never fit.
var ErrTooLarge = errors.New("batch larger than the spool's bounds")

var (
	recordsBucket = []byte("records")
	metaBucket    = []byte("meta")
	countKey      = []byte("count")
	bytesKey      = []byte("bytes")
)

// maxExpiredPerPass bounds the keys of expired records the forwarder deletes in
// one transaction, so that memory stays bounded after a long outage.
const maxExpiredPerPass = 10_000

// Options are what a Spool gets besides its Config.
type Options struct {
	// Logger defaults to discarding.
	Logger *slog.Logger
	// MeterProvider receives the depth and drop metrics; nil uses the global
	// provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
	// Node and Name label the metrics: edgeflow_spool_depth{node, spool}.
	Node, Name string
	// Now defaults to time.Now; tests set it to move time.
	Now func() time.Time
	// LinkProbe, when set, reports whether the sink's destination answers now
	// (for Kafka, a metadata request). While the forwarder waits to retry after
	// failed Writes, it probes every ProbeInterval and retries as soon as a
	// probe succeeds, so that a long backoff (Config.RetryMaxWait) does not
	// delay the drain once the link is back. NewSink sets it from a sink that
	// is a LinkProber.
	LinkProbe func(ctx context.Context) error
}

// LinkProber is a sink that can tell cheaply whether its destination answers
// (the kafka sink: a metadata request to its brokers).
type LinkProber interface {
	ProbeLink(ctx context.Context) error
}

// ProbeInterval is how often a forwarder waiting to retry probes the link
// (Options.LinkProbe); each probe may take as long.
const ProbeInterval = 500 * time.Millisecond

// Stats counts what a spool did since it was opened, and what it holds.
type Stats struct {
	Appended    uint64 // messages made durable by Append
	Forwarded   uint64 // messages the sink took and that were deleted
	DroppedFull uint64 // oldest messages deleted unsent to make room (drop_oldest)
	Expired     uint64 // messages deleted unsent because they were older than max_age
	WriteErrors uint64 // failed Writes of the sink
	Blocked     uint64 // Appends that had to wait for room (block)
	Depth       int64  // messages held now
	Bytes       int64  // bytes held now
}

// Spool is a durable, bounded FIFO of messages in one bbolt file, forwarded in
// order to a sink by its own goroutine. Its methods are safe for concurrent use.
type Spool struct {
	db   *bolt.DB
	path string
	cfg  Config
	sink stages.Sink
	log  *slog.Logger
	now  func() time.Time

	appendSem chan struct{} // holds one token: one Append at a time, so keys are committed in order

	mu    sync.Mutex
	next  uint64        // key of the next appended record
	room  chan struct{} // closed and replaced whenever records are deleted
	stats Stats

	arrived   chan struct{} // buffered 1: data was appended
	kick      chan struct{} // buffered 1: retry now
	stop      chan struct{} // closed by Close: drain, then exit
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	metrics   []metric.Registration
	probe     func(ctx context.Context) error // nil: retry on the backoff only
}

// Open opens (or creates) the spool file at path, creating its directory, and
// starts forwarding what it holds to sink. cfg must be valid (Config.Validate).
// Only one Spool may have a file open at a time; a second Open of the same
// file fails after a second.
func Open(path string, cfg Config, sink stages.Sink, opts Options) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	if sink == nil {
		return nil, fmt.Errorf("spool %s: no sink to forward to", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("spool %s: open: %w", path, err)
	}
	s := &Spool{db: db, path: path, cfg: cfg, sink: sink, log: opts.Logger, now: opts.Now, probe: opts.LinkProbe,
		appendSem: make(chan struct{}, 1), room: make(chan struct{}), arrived: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	err = db.Update(func(tx *bolt.Tx) error {
		recs, err := tx.CreateBucketIfNotExists(recordsBucket)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if k, _ := recs.Cursor().Last(); k != nil {
			s.next = binary.BigEndian.Uint64(k) + 1
		}
		s.stats.Depth, s.stats.Bytes = getInt(meta, countKey), getInt(meta, bytesKey)
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if s.metrics, err = s.observe(mp, opts.Node, opts.Name); err != nil {
		db.Close()
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	if s.stats.Depth > 0 {
		s.log.Info("spool resumes forwarding", "path", path, "messages", s.stats.Depth, "bytes", s.stats.Bytes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.forward(ctx)
	return s, nil
}

func getInt(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k []byte, n int64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func recordKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

// recordSize is what one record counts against max_bytes.
func recordSize(k, v []byte) int64 { return int64(len(k) + len(v)) }

// change is what one write transaction did to the spool.
type change struct {
	count, bytes                 int64
	appended, forwarded, dropped uint64
	expired                      uint64
}

// update runs fn in a write transaction that also keeps the stored count and
// byte total, then applies the change to s.stats and wakes blocked Appends if
// room was made.
func (s *Spool) update(fn func(recs *bolt.Bucket, count, bytes int64, c *change) error) error {
	var c change
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs, meta := tx.Bucket(recordsBucket), tx.Bucket(metaBucket)
		count, bytes := getInt(meta, countKey), getInt(meta, bytesKey)
		if err := fn(recs, count, bytes, &c); err != nil {
			return err
		}
		if c.count == 0 && c.bytes == 0 {
			return nil
		}
		if err := putInt(meta, countKey, count+c.count); err != nil {
			return err
		}
		return putInt(meta, bytesKey, bytes+c.bytes)
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.stats.Depth += c.count
	s.stats.Bytes += c.bytes
	s.stats.Appended += c.appended
	s.stats.Forwarded += c.forwarded
	s.stats.DroppedFull += c.dropped
	s.stats.Expired += c.expired
	if c.forwarded+c.dropped+c.expired > 0 {
		close(s.room)
		s.room = make(chan struct{})
	}
	s.mu.Unlock()
	return nil
}

// Append stores msgs at the end of the spool and returns once they are durable
// (their transaction is fsynced). When the spool is full, PolicyBlock waits for
// room until ctx ends (ctx.Err()) and PolicyDropOldest deletes the oldest
// messages. A batch larger than max_messages or max_bytes fails with
// ErrTooLarge.
func (s *Spool) Append(ctx context.Context, msgs []*message.Message) error {
	if len(msgs) == 0 {
		return ctx.Err()
	}
	now := s.now()
	recs := make([][]byte, len(msgs))
	var size int64
	for i, m := range msgs {
		recs[i] = encodeRecord(m, now)
		size += recordSize(recordKey(0), recs[i])
	}
	n := int64(len(msgs))
	if n > int64(s.cfg.MaxMessages) || size > int64(s.cfg.MaxBytes) {
		return fmt.Errorf("spool %s: %d messages of %d bytes, bounds max_messages %d, max_bytes %d: %w",
			s.path, n, size, s.cfg.MaxMessages, int64(s.cfg.MaxBytes), ErrTooLarge)
	}
	select {
	case s.appendSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return fmt.Errorf("spool %s: %w", s.path, ErrClosed)
	}
	defer func() { <-s.appendSem }()
	for waited := false; ; {
		s.mu.Lock()
		fits := s.stats.Depth+n <= int64(s.cfg.MaxMessages) && s.stats.Bytes+size <= int64(s.cfg.MaxBytes)
		room := s.room
		if !fits && !waited && s.cfg.WhenFull == PolicyBlock {
			s.stats.Blocked++
			waited = true
		}
		s.mu.Unlock()
		if fits || s.cfg.WhenFull == PolicyDropOldest {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return fmt.Errorf("spool %s: %w", s.path, ErrClosed)
		case <-room:
		}
	}
	select {
	case <-s.stop:
		return fmt.Errorf("spool %s: %w", s.path, ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	first := s.next
	err := s.update(func(b *bolt.Bucket, count, bytes int64, c *change) error {
		if s.cfg.WhenFull == PolicyDropOldest {
			cur := b.Cursor()
			for k, v := cur.First(); k != nil && (count+c.count+n > int64(s.cfg.MaxMessages) || bytes+c.bytes+size > int64(s.cfg.MaxBytes)); k, v = cur.First() {
				c.count--
				c.bytes -= recordSize(k, v)
				c.dropped++
				if err := cur.Delete(); err != nil {
					return err
				}
			}
		}
		b.FillPercent = 1 // keys only grow: fill pages completely
		for i, r := range recs {
			if err := b.Put(recordKey(first+uint64(i)), r); err != nil {
				return err
			}
		}
		c.count += n
		c.bytes += size
		c.appended += uint64(n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("spool %s: append: %w", s.path, err)
	}
	s.next = first + uint64(n)
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns what the spool did and holds.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Kick makes a forwarder waiting after a failed Write try again now, e.g. when
// the caller learnt that the link is back.
func (s *Spool) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Path is the spool's file.
func (s *Spool) Path() string { return s.path }

// Close stops taking messages, lets the forwarder send what the spool holds for
// up to Config.DrainTimeout (retrying while the sink fails), then closes the
// file. What is left stays on disk for the next Open. Close does not close the
// sink. It is idempotent.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		t := time.AfterFunc(s.cfg.DrainTimeout, s.cancel)
		<-s.done
		t.Stop()
		s.cancel()
		s.appendSem <- struct{}{} // an Append in its transaction finishes first
		defer func() { <-s.appendSem }()
		var errs []error
		for _, r := range s.metrics {
			errs = append(errs, r.Unregister())
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("spool %s: close: %w", s.path, err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
