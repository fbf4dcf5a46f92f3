package kafkabus

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
)

// This file is the deliver-ahead mode of a subscription (SubscriberConfig.MaxInFlight
// above 1): records are handed out without waiting for the previous one's Ack,
// and each partition's offset is committed only up to the last record of an
// unbroken run of Acked ones, so a commit never passes a record that was not
// Acked.

// partitionKey names one partition of one topic.
type partitionKey struct {
	topic     string
	partition int
}

// inFlightRecord is a fetched record not yet committed: handed out, or waiting
// to be.
type inFlightRecord struct {
	rec       kafka.Message
	fetchSeq  uint64 // order of fetching, across partitions: records are handed out in it
	part      *partitionQueue
	attempt   int              // counts deliveries; outcomes of earlier ones are ignored
	msg       *message.Message // the current delivery, nil until it is prepared
	cancelMsg context.CancelFunc
	acked     bool
}

// partitionQueue holds one partition's uncommitted records in offset order.
type partitionQueue struct {
	key        partitionKey
	records    []*inFlightRecord
	next       int       // index of the next record to hand out
	heldUntil  time.Time // after a Nack nothing of the partition goes out before
	lastOffset int64     // offset of the last record fetched
	replaced   bool      // the reader went back over it (rebalance): outcomes are ignored
}

// recordOutcome is an Ack or Nack of one delivery of a record.
type recordOutcome struct {
	r       *inFlightRecord
	attempt int
	acked   bool
}

// aheadDelivery is the state of one deliver-ahead subscription; only its
// consume loop touches it.
type aheadDelivery struct {
	s         *Subscriber
	ctx       context.Context
	logFields watermill.LogFields
	parts     map[partitionKey]*partitionQueue
	held      int // records in the queues
	fetched   uint64
	outcomes  chan recordOutcome
	committer *offsetCommitter
}

// consumeAhead fetches records into per-partition queues while fewer than
// MaxInFlight are held, hands them out in fetch order without waiting for
// their Acks, and commits each partition's Acked prefix.
func (s *Subscriber) consumeAhead(ctx context.Context, reader *kafka.Reader, out chan<- *message.Message, logFields watermill.LogFields) {
	fetched := make(chan kafka.Message)
	var fetcher sync.WaitGroup
	fetcher.Add(1)
	go func() {
		defer fetcher.Done()
		s.fetchInto(ctx, reader, fetched, logFields)
	}()
	d := &aheadDelivery{s: s, ctx: ctx, logFields: logFields, parts: map[partitionKey]*partitionQueue{},
		outcomes: make(chan recordOutcome), committer: newOffsetCommitter(ctx, reader, s.cfg.CommitTimeout, s.cfg.Logger, logFields)}
	defer func() {
		d.finish()
		fetcher.Wait()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, wake := d.nextToHandOut(time.Now())
		var send chan<- *message.Message
		var msg *message.Message
		if next != nil {
			msg, send = d.prepare(next), out
		}
		var fetch <-chan kafka.Message
		if d.held < s.cfg.MaxInFlight {
			fetch = fetched
		}
		var wakeC <-chan time.Time
		if !wake.IsZero() {
			timer.Reset(time.Until(wake))
			wakeC = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case rec := <-fetch:
			d.add(rec)
		case send <- msg:
			d.handedOut(next)
		case o := <-d.outcomes:
			d.settle(o)
			d.settlePending()
		case <-wakeC:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// fetchInto fetches records and sends them to fetched until ctx ends.
func (s *Subscriber) fetchInto(ctx context.Context, reader *kafka.Reader, fetched chan<- kafka.Message, logFields watermill.LogFields) {
	s.fetchEach(ctx, reader, logFields, func(rec kafka.Message) bool {
		select {
		case fetched <- rec:
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// add queues a fetched record. A record at or before the last one fetched of
// its partition means the reader started over from the committed offset (the
// group rebalanced): the partition's queue is replaced, and what it held is
// handed out again as it is fetched again.
func (d *aheadDelivery) add(rec kafka.Message) {
	key := partitionKey{rec.Topic, rec.Partition}
	p := d.parts[key]
	if p != nil && rec.Offset <= p.lastOffset {
		d.drop(p)
		p = nil
	}
	if p == nil {
		p = &partitionQueue{key: key}
		d.parts[key] = p
	}
	p.lastOffset = rec.Offset
	d.fetched++
	p.records = append(p.records, &inFlightRecord{rec: rec, fetchSeq: d.fetched, part: p})
	d.held++
}

// drop forgets a partition's queue.
func (d *aheadDelivery) drop(p *partitionQueue) {
	p.replaced = true
	for _, r := range p.records {
		r.cancel()
	}
	d.held -= len(p.records)
	delete(d.parts, p.key)
}

// nextToHandOut returns the record to hand out next, the first fetched among
// the partitions not held back by a Nack, and when the earliest held-back
// partition may go on (zero when none is waiting).
func (d *aheadDelivery) nextToHandOut(now time.Time) (*inFlightRecord, time.Time) {
	var next *inFlightRecord
	var wake time.Time
	for _, p := range d.parts {
		if p.next >= len(p.records) {
			continue
		}
		if now.Before(p.heldUntil) {
			if wake.IsZero() || p.heldUntil.Before(wake) {
				wake = p.heldUntil
			}
			continue
		}
		if r := p.records[p.next]; next == nil || r.fetchSeq < next.fetchSeq {
			next = r
		}
	}
	return next, wake
}

// prepare makes the message of r's current delivery, once.
func (d *aheadDelivery) prepare(r *inFlightRecord) *message.Message {
	if r.msg == nil {
		where := Record{Topic: r.rec.Topic, Partition: r.rec.Partition, Offset: r.rec.Offset, Key: r.rec.Key}
		msg := fromKafka(r.rec)
		msgCtx, cancel := context.WithCancel(context.WithValue(d.ctx, recordKey{}, where))
		msg.SetContext(msgCtx)
		r.msg, r.cancelMsg = msg, cancel
	}
	return r.msg
}

// handedOut notes that r's message went out and watches for its outcome.
func (d *aheadDelivery) handedOut(r *inFlightRecord) {
	r.part.next++
	msg, attempt, msgCtx := r.msg, r.attempt, r.msg.Context()
	go func() {
		var o recordOutcome
		select {
		case <-msg.Acked():
			o = recordOutcome{r: r, attempt: attempt, acked: true}
		case <-msg.Nacked():
			o = recordOutcome{r: r, attempt: attempt}
		case <-msgCtx.Done(): // superseded, or the subscription ended
			return
		}
		select {
		case d.outcomes <- o:
		case <-d.ctx.Done():
		}
	}()
}

// settlePending takes the outcomes already waiting, then commits.
func (d *aheadDelivery) settlePending() {
	for {
		select {
		case o := <-d.outcomes:
			d.settle(o)
		default:
			d.committer.wake()
			return
		}
	}
}

// settle applies one outcome: an Ack may advance its partition's committed
// offset; a Nack rewinds the partition to the record, which after
// NackResendSleep is handed out again followed by every later record of the
// partition handed out before (Acked or not: they come again).
func (d *aheadDelivery) settle(o recordOutcome) {
	r, p := o.r, o.r.part
	if p.replaced || o.attempt != r.attempt {
		return
	}
	if o.acked {
		r.acked = true
		d.popAcked(p, func(*inFlightRecord) bool { return false })
		return
	}
	i := slices.Index(p.records, r)
	if i < 0 {
		return
	}
	for _, later := range p.records[i:p.next] {
		later.cancel()
		later.attempt++
		later.acked = false
	}
	p.next = i
	p.heldUntil = time.Now().Add(d.s.cfg.NackResendSleep)
}

// popAcked removes the Acked records at the head of p and offers the last of
// them for commit. acked says whether a record counts as Acked beyond its
// flag.
func (d *aheadDelivery) popAcked(p *partitionQueue, acked func(*inFlightRecord) bool) {
	n := 0
	for n < len(p.records) && n < p.next && (p.records[n].acked || acked(p.records[n])) {
		n++
	}
	if n == 0 {
		return
	}
	last := p.records[n-1]
	for _, r := range p.records[:n] {
		r.cancel()
	}
	p.records = slices.Delete(p.records, 0, n)
	p.next -= n
	d.held -= n
	d.committer.offer(p.key, last.rec)
}

// finish commits, at the end of the subscription, every partition's prefix of
// records Acked so far, including Acks not yet reported by their watchers.
func (d *aheadDelivery) finish() {
	for _, p := range d.parts {
		d.popAcked(p, func(r *inFlightRecord) bool {
			if r.msg == nil {
				return false
			}
			select {
			case <-r.msg.Acked():
				return true
			default:
				return false
			}
		})
		for _, r := range p.records {
			r.cancel()
		}
	}
	d.committer.stop()
}

// cancel ends the current delivery's message context (its watcher stops) and
// forgets the message: a later delivery makes a new one.
func (r *inFlightRecord) cancel() {
	if r.cancelMsg != nil {
		r.cancelMsg()
	}
	r.msg, r.cancelMsg = nil, nil
}

// offsetCommitter commits offered offsets from its own goroutine, so handing
// out records does not wait for the broker; offers made while a commit is under
// way are merged into the next one.
type offsetCommitter struct {
	ctx       context.Context
	reader    *kafka.Reader
	timeout   time.Duration
	logger    watermill.LoggerAdapter
	logFields watermill.LogFields

	mu      sync.Mutex
	pending map[partitionKey]kafka.Message
	wakeC   chan struct{}
	stopC   chan struct{}
	done    chan struct{}
}

func newOffsetCommitter(ctx context.Context, reader *kafka.Reader, timeout time.Duration, logger watermill.LoggerAdapter, logFields watermill.LogFields) *offsetCommitter {
	c := &offsetCommitter{ctx: ctx, reader: reader, timeout: timeout, logger: logger, logFields: logFields,
		pending: map[partitionKey]kafka.Message{}, wakeC: make(chan struct{}, 1), stopC: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// offer records rec as the last record of its partition that may be committed.
func (c *offsetCommitter) offer(key partitionKey, rec kafka.Message) {
	c.mu.Lock()
	c.pending[key] = rec
	c.mu.Unlock()
}

// wake starts a commit of what was offered.
func (c *offsetCommitter) wake() {
	select {
	case c.wakeC <- struct{}{}:
	default:
	}
}

// stop commits what is left and returns once that is done.
func (c *offsetCommitter) stop() {
	close(c.stopC)
	<-c.done
}

func (c *offsetCommitter) run() {
	defer close(c.done)
	for {
		select {
		case <-c.wakeC:
			c.commit()
		case <-c.stopC:
			c.commit()
			return
		}
	}
}

// commit commits the pending offsets, even after the subscription's context
// ended. A failed commit means records are delivered again (at-least-once).
func (c *offsetCommitter) commit() {
	c.mu.Lock()
	recs := make([]kafka.Message, 0, len(c.pending))
	for _, rec := range c.pending {
		recs = append(recs, rec)
	}
	clear(c.pending)
	c.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), c.timeout)
	defer cancel()
	if err := c.reader.CommitMessages(ctx, recs...); err != nil {
		c.logger.Error("committing kafka offsets", err, c.logFields)
	}
}
