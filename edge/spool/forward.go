package spool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	bolt "go.etcd.io/bbolt"
)

// beforeDelete runs between the sink's successful Write of a batch and the
// deletion of the batch from the spool. It does nothing, except in binaries
// built with the chaoshook tag (deletehook_chaos.go), where the chaos tests
// widen this window to kill the node inside it.
var beforeDelete = func() {}

// forward runs until Close: it sends the oldest records to the sink in
// batches, deletes them once the sink took them, and deletes expired ones.
func (s *Spool) forward(ctx context.Context) {
	defer close(s.done)
	wait := RetryFirstWait
	failing := false
	for {
		stopping := isClosed(s.stop)
		keys, msgs, err := s.head()
		if err != nil {
			// The file is unreadable or a record corrupt; nothing better to do
			// than to report it and try again later.
			s.log.Error("spool: reading the oldest messages failed", "path", s.path, "error", err)
			if stopping || !s.sleep(ctx, s.cfg.RetryMaxWait, false) {
				return
			}
			continue
		}
		if len(keys) == 0 {
			if stopping {
				return
			}
			select {
			case <-s.arrived:
			case <-s.stop:
			case <-ctx.Done():
				return
			}
			continue
		}
		err = s.sink.Write(ctx, msgs)
		if err == nil {
			if failing {
				s.log.Info("spool: the sink takes messages again", "path", s.path, "depth", s.Stats().Depth)
				failing = false
			}
			wait = RetryFirstWait
			beforeDelete()
			if err := s.remove(keys); err != nil {
				s.log.Error("spool: deleting forwarded messages failed; they will be sent again", "path", s.path, "error", err)
			}
			continue
		}
		s.mu.Lock()
		s.stats.WriteErrors++
		s.mu.Unlock()
		if !failing {
			s.log.Warn("spool: the sink failed; keeping messages and retrying", "path", s.path, "error", err)
			failing = true
		}
		// While draining (Close), keep trying until the drain timeout cancels ctx.
		if ctx.Err() != nil || !s.sleep(ctx, wait, stopping) {
			return
		}
		wait = min(2*wait, s.cfg.RetryMaxWait)
	}
}

// sleep waits for d or a Kick; false when the forwarder must end: ctx ended
// or, unless draining, Close was called. With a link probe and d longer than
// ProbeInterval, it probes every ProbeInterval and returns early once a probe
// succeeds: the link is back.
func (s *Spool) sleep(ctx context.Context, d time.Duration, draining bool) bool {
	stop := s.stop
	if draining {
		stop = nil
	}
	deadline := time.Now().Add(d)
	for {
		step := time.Until(deadline)
		probing := s.probe != nil && step > ProbeInterval
		if probing {
			step = ProbeInterval
		}
		t := time.NewTimer(step)
		select {
		case <-t.C:
		case <-s.kick:
			t.Stop()
			return true
		case <-stop:
			t.Stop()
			return true
		case <-ctx.Done():
			t.Stop()
			return false
		}
		if !probing {
			return true
		}
		if s.probeLink(ctx) {
			s.log.Info("spool: the link answers again; sending now", "path", s.path)
			return true
		}
	}
}

// probeLink probes the sink's destination for at most ProbeInterval.
func (s *Spool) probeLink(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, ProbeInterval)
	defer cancel()
	return s.probe(ctx) == nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// head returns the oldest batch of records that are not expired, after
// deleting the expired ones in front of them.
func (s *Spool) head() (keys [][]byte, msgs []*message.Message, err error) {
	for {
		var expired [][]byte
		var size int64
		cutoff := time.Time{}
		if s.cfg.MaxAge > 0 {
			cutoff = s.now().Add(-s.cfg.MaxAge)
		}
		err = s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(recordsBucket).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				at, err := recordTime(v)
				if err != nil {
					return fmt.Errorf("record %x: %w", k, err)
				}
				if !cutoff.IsZero() && at.Before(cutoff) && len(msgs) == 0 {
					expired = append(expired, append([]byte(nil), k...))
					if len(expired) >= maxExpiredPerPass {
						return nil
					}
					continue
				}
				if len(msgs) >= s.cfg.BatchMessages || (len(msgs) > 0 && size+int64(len(v)) > int64(s.cfg.BatchBytes)) {
					return nil
				}
				m, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("record %x: %w", k, err)
				}
				keys = append(keys, append([]byte(nil), k...))
				msgs = append(msgs, m)
				size += int64(len(v))
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if len(expired) == 0 {
			return keys, msgs, nil
		}
		if err := s.delete(expired, true); err != nil {
			return nil, nil, err
		}
		if len(msgs) > 0 {
			return keys, msgs, nil
		}
		keys, msgs = nil, nil
	}
}

// remove deletes forwarded records.
func (s *Spool) remove(keys [][]byte) error { return s.delete(keys, false) }

// delete deletes the records of keys that are still there (drop_oldest may
// have deleted some meanwhile), counting them as expired or forwarded.
func (s *Spool) delete(keys [][]byte, expired bool) error {
	return s.update(func(b *bolt.Bucket, _, _ int64, c *change) error {
		var errs []error
		for _, k := range keys {
			v := b.Get(k)
			if v == nil {
				continue
			}
			c.count--
			c.bytes -= recordSize(k, v)
			if expired {
				c.expired++
			} else {
				c.forwarded++
			}
			errs = append(errs, b.Delete(k))
		}
		return errors.Join(errs...)
	})
}
