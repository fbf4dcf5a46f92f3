package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
)

// Start says where a consumer group without a committed offset begins reading.
type Start string

const (
	// StartOldest reads from the earliest record still retained.
	StartOldest Start = "oldest"
	// StartNewest reads only records written after the group joined.
	StartNewest Start = "newest"
)

// SubscriberConfig configures a Subscriber. Only Brokers is required.
type SubscriberConfig struct {
	// Brokers are bootstrap addresses, host:port.
	Brokers []string
	// ConsumerGroup shares the records of a topic among all subscriptions with
	// the same group and remembers (commits) how far the group got. Empty means
	// a fresh group per Subscribe call: every subscription sees every record
	// from Start on and nothing is remembered across restarts.
	ConsumerGroup string
	// Start applies when the group has no committed offset (default StartOldest).
	Start Start
	// ClientID names this client in broker logs (default "edgeflow").
	ClientID string
	// NackResendSleep is the pause before a Nacked message is delivered again
	// (default 100ms).
	NackResendSleep time.Duration
	// DisableTopicCreation turns off creating a missing topic on Subscribe;
	// Partitions and ReplicationFactor apply to the topics it creates (default 1 and 1).
	DisableTopicCreation bool
	Partitions           int
	ReplicationFactor    int
	// MaxWait bounds how long one fetch waits for new records (default 2s; a
	// fetch returns as soon as a record arrives).
	MaxWait time.Duration
	// HeartbeatInterval, SessionTimeout, RebalanceTimeout and JoinGroupBackoff
	// tune group membership (defaults 1s, 10s, 10s, 500ms: members that leave or
	// join are noticed within seconds). A member that dies without leaving the
	// group (SIGKILL) keeps its partitions until its SessionTimeout passes or,
	// when another member joins, until the group's rebalance timeout (the
	// largest RebalanceTimeout of its members, the dead one included) passes,
	// whichever comes first. HeartbeatInterval must be less than both;
	// the broker accepts SessionTimeout only within its
	// group.min.session.timeout.ms (6s by default) and group.max.session.timeout.ms.
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	JoinGroupBackoff  time.Duration
	// PartitionWatchInterval is how often the partition counts of the topics
	// are checked (a change rebalances the group) and, with topic creation
	// off, how often a missing topic is looked for (default 1s).
	PartitionWatchInterval time.Duration
	// CommitInterval 0 (the default) commits each offset synchronously when its
	// message is Acked, before the next message is handed out. A positive value
	// collects acked offsets and commits them every CommitInterval and when the
	// reader closes or the group rebalances: much higher throughput, and after a
	// crash up to CommitInterval of acked messages are delivered again. Offsets of
	// messages not yet Acked are never committed either way.
	CommitInterval time.Duration
	// MaxInFlight 0 or 1 (the default) hands out one record at a time: the next
	// record is delivered only after the current one is Acked, and a Nacked one
	// comes again before any later record (watermill's ordering, which the
	// pub/sub conformance suite checks). Above 1, up to MaxInFlight records
	// (per subscription) are handed out before they are Acked, in partition
	// order, and Acks may come in any order; a partition's committed offset
	// advances past a record only once it and every record before it were
	// Acked. A Nack rewinds its partition: after NackResendSleep the Nacked
	// record is delivered again, followed by every later record of the partition
	// already handed out, Acked or not (at-least-once: those come again, in
	// order). For consumers that hold many records before deciding, such as a
	// pipeline behind a buffering stage.
	MaxInFlight int
	// CommitTimeout bounds committing one offset (default 10s).
	CommitTimeout time.Duration
	// DialTimeout bounds connecting to a broker (default 10s).
	DialTimeout time.Duration
	// Logger receives errors and debug output (default: none).
	Logger watermill.LoggerAdapter
}

func (c *SubscriberConfig) setDefaults() {
	if c.Start == "" {
		c.Start = StartOldest
	}
	if c.ClientID == "" {
		c.ClientID = "edgeflow"
	}
	if c.NackResendSleep <= 0 {
		c.NackResendSleep = 100 * time.Millisecond
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 1
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 2 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = 10 * time.Second
	}
	if c.JoinGroupBackoff <= 0 {
		c.JoinGroupBackoff = 500 * time.Millisecond
	}
	if c.PartitionWatchInterval <= 0 {
		c.PartitionWatchInterval = time.Second
	}
	if c.CommitInterval < 0 {
		c.CommitInterval = 0
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = 10 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
}

// maxGroupTime bounds the group timings: the protocol carries them as
// milliseconds in an int32.
const maxGroupTime = time.Duration(math.MaxInt32) * time.Millisecond

// validateGroupTimes checks the group timings after setDefaults: kafka-go
// panics on values the protocol cannot carry, and a heartbeat interval not
// below the session timeout lets the group drop a live member.
func (c *SubscriberConfig) validateGroupTimes() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"HeartbeatInterval", c.HeartbeatInterval},
		{"SessionTimeout", c.SessionTimeout},
		{"RebalanceTimeout", c.RebalanceTimeout},
		{"JoinGroupBackoff", c.JoinGroupBackoff},
		{"PartitionWatchInterval", c.PartitionWatchInterval},
	} {
		if f.d > maxGroupTime {
			return fmt.Errorf("kafkabus: %s %s: want at most %s", f.name, f.d, maxGroupTime)
		}
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("kafkabus: HeartbeatInterval %s: want less than SessionTimeout %s", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.HeartbeatInterval >= c.RebalanceTimeout {
		return fmt.Errorf("kafkabus: HeartbeatInterval %s: want less than RebalanceTimeout %s", c.HeartbeatInterval, c.RebalanceTimeout)
	}
	return nil
}

// Subscriber is a watermill message.Subscriber reading from Kafka. Each
// Subscribe call runs its own consumer-group reader and, by default, hands out
// one message at a time: the next record is delivered only after the current
// one is Acked (its offset is then committed) and a Nacked message is delivered
// again. With SubscriberConfig.MaxInFlight many records are handed out ahead.
type Subscriber struct {
	cfg    SubscriberConfig
	dialer *kafka.Dialer
	topics *topicCreator

	mu        sync.Mutex
	closed    bool
	closing   chan struct{}
	closeOnce sync.Once
	running   sync.WaitGroup
}

// NewSubscriber returns a Subscriber; it connects on Subscribe.
func NewSubscriber(cfg SubscriberConfig) (*Subscriber, error) {
	cfg.setDefaults()
	if err := validateBrokers(cfg.Brokers); err != nil {
		return nil, err
	}
	switch cfg.Start {
	case StartOldest, StartNewest:
	default:
		return nil, fmt.Errorf("kafkabus: start %q: want %q or %q", cfg.Start, StartOldest, StartNewest)
	}
	if err := cfg.validateGroupTimes(); err != nil {
		return nil, err
	}
	s := &Subscriber{
		cfg:     cfg,
		dialer:  &kafka.Dialer{ClientID: cfg.ClientID, Timeout: cfg.DialTimeout, DualStack: true},
		closing: make(chan struct{}),
	}
	if !cfg.DisableTopicCreation {
		s.topics = newTopicCreator(cfg.Brokers, s.dialer, cfg.Partitions, cfg.ReplicationFactor, 30*time.Second)
	}
	return s, nil
}

// ErrSubscriberClosed is returned by Subscribe after Close.
var ErrSubscriberClosed = errors.New("kafkabus: subscriber closed")

// SubscribeInitialize creates topic when missing (watermill's
// message.SubscribeInitializer).
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := ValidateTopic(topic); err != nil {
		return fmt.Errorf("kafkabus: subscribe: %w", err)
	}
	if s.topics == nil {
		return nil
	}
	return s.topics.ensure(context.Background(), topic)
}

// Subscribe starts reading topic. The returned channel is closed when ctx ends
// or the Subscriber is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.SubscribeTopics(ctx, topic)
}

// SubscribeTopics starts one consumer-group reader for several topics at once
// (one group member, so the topics do not rebalance each other). Order holds
// per partition; records of different topics interleave.
func (s *Subscriber) SubscribeTopics(ctx context.Context, topics ...string) (<-chan *message.Message, error) {
	if len(topics) == 0 {
		return nil, errors.New("kafkabus: subscribe: no topic")
	}
	for _, topic := range topics {
		if err := ValidateTopic(topic); err != nil {
			return nil, fmt.Errorf("kafkabus: subscribe: %w", err)
		}
		if s.topics != nil {
			if err := s.topics.ensure(ctx, topic); err != nil {
				return nil, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrSubscriberClosed
	}
	group := s.cfg.ConsumerGroup
	if group == "" {
		group = "edgeflow-" + watermill.NewShortUUID()
	}
	start := kafka.FirstOffset
	if s.cfg.Start == StartNewest {
		start = kafka.LastOffset
	}
	logFields := watermill.LogFields{"topic": strings.Join(topics, ","), "consumer_group": group}
	rc := kafka.ReaderConfig{
		Brokers:           s.cfg.Brokers,
		GroupID:           group,
		Dialer:            s.dialer,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           s.cfg.MaxWait,
		QueueCapacity:     100,
		StartOffset:       start,
		HeartbeatInterval: s.cfg.HeartbeatInterval,
		SessionTimeout:    s.cfg.SessionTimeout,
		RebalanceTimeout:  s.cfg.RebalanceTimeout,
		JoinGroupBackoff:  s.cfg.JoinGroupBackoff,
		CommitInterval:    s.cfg.CommitInterval, // 0: CommitMessages returns once the broker has the offset
		ErrorLogger: kafka.LoggerFunc(func(f string, a ...any) {
			s.cfg.Logger.Error("kafka reader", fmt.Errorf(f, a...), logFields)
		}),
		Logger: kafka.LoggerFunc(func(f string, a ...any) {
			if isGroupChange(f) {
				s.cfg.Logger.Info("kafka reader: "+fmt.Sprintf(f, a...), logFields)
				return
			}
			s.cfg.Logger.Trace("kafka reader: "+fmt.Sprintf(f, a...), logFields)
		}),
	}
	if len(topics) == 1 {
		rc.Topic = topics[0]
	} else {
		rc.GroupTopics = topics
	}
	// A group that joins while a topic has no partitions is never assigned
	// any: watch partition counts, and with topic creation off, wait until
	// the topics exist before joining (see awaitTopics).
	rc.WatchPartitionChanges = true
	rc.PartitionWatchInterval = s.cfg.PartitionWatchInterval
	out := make(chan *message.Message)
	s.running.Add(1)
	go s.consume(ctx, rc, topics, out, logFields)
	return out, nil
}

// groupChanges start the kafka-go log lines that say the reader joined or
// left its group or got its partitions: logged at info, the rest at trace, so
// that the log shows when a member takes over partitions (failover).
var groupChanges = []string{"Joined group", "Leaving group", "subscribed to topics and partitions"}

func isGroupChange(format string) bool {
	for _, p := range groupChanges {
		if strings.HasPrefix(format, p) {
			return true
		}
	}
	return false
}

// logFirstRecord logs the first record a subscription fetched, once: with the
// group changes above, the log shows how long a member that took over
// partitions waited for its first record.
func (s *Subscriber) logFirstRecord(first *bool, rec kafka.Message, logFields watermill.LogFields) {
	if !*first {
		return
	}
	*first = false
	s.cfg.Logger.Info("first kafka record fetched", logFields.Add(watermill.LogFields{
		"partition": rec.Partition, "offset": rec.Offset}))
}

// consume joins the group once the topics exist, then fetches records and
// hands them out until ctx ends or Close.
func (s *Subscriber) consume(ctx context.Context, rc kafka.ReaderConfig, topics []string, out chan<- *message.Message, logFields watermill.LogFields) {
	defer s.running.Done()
	defer close(out)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	if s.topics == nil && !s.awaitTopics(ctx, topics, logFields) {
		return
	}
	reader := kafka.NewReader(rc)
	defer func() {
		if err := reader.Close(); err != nil {
			s.cfg.Logger.Error("closing kafka reader", err, logFields)
		}
	}()

	if s.cfg.MaxInFlight > 1 {
		s.consumeAhead(ctx, reader, out, logFields)
		return
	}
	s.fetchEach(ctx, reader, logFields, func(rec kafka.Message) bool {
		return s.deliver(ctx, reader, rec, out, logFields)
	})
}

// fetchEach fetches records one after another and hands each to handle until
// ctx ends or handle returns false; a failed fetch is logged and retried after
// a second.
func (s *Subscriber) fetchEach(ctx context.Context, reader *kafka.Reader, logFields watermill.LogFields, handle func(kafka.Message) bool) {
	first := true
	for {
		rec, err := reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.cfg.Logger.Error("fetching kafka record", err, logFields)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		s.logFirstRecord(&first, rec, logFields)
		if !handle(rec) {
			return
		}
	}
}

// awaitTopics polls the brokers until every topic exists and reports false
// if ctx ended first. It is used when the subscriber may not create topics:
// a consumer started before its producer must still get the topic's
// partitions once the producer created it.
func (s *Subscriber) awaitTopics(ctx context.Context, topics []string, logFields watermill.LogFields) bool {
	probe := newTopicCreator(s.cfg.Brokers, s.dialer, 0, 0, 0)
	logged := false
	for {
		missing, err := probe.missing(ctx, topics)
		switch {
		case err == nil && len(missing) == 0:
			if logged {
				s.cfg.Logger.Info("topics exist now; joining the consumer group", logFields)
			}
			return true
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.Error("checking that the topics exist", err, logFields)
		case !logged && ctx.Err() == nil:
			s.cfg.Logger.Info("waiting for topics to be created", logFields.Add(watermill.LogFields{"missing": strings.Join(missing, ",")}))
			logged = true
		}
		if !sleep(ctx, s.cfg.PartitionWatchInterval) {
			return false
		}
	}
}

// deliver hands rec out until it is Acked (then commits its offset) and reports
// whether consuming should go on.
func (s *Subscriber) deliver(ctx context.Context, reader *kafka.Reader, rec kafka.Message, out chan<- *message.Message, logFields watermill.LogFields) bool {
	where := Record{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key}
	for {
		msg := fromKafka(rec)
		msgCtx, msgCancel := context.WithCancel(context.WithValue(ctx, recordKey{}, where))
		msg.SetContext(msgCtx)
		select {
		case out <- msg:
		case <-ctx.Done():
			msgCancel()
			return false
		}
		select {
		case <-msg.Acked():
			msgCancel()
			s.commit(ctx, reader, rec, logFields)
			return true
		case <-msg.Nacked():
			msgCancel()
			if !sleep(ctx, s.cfg.NackResendSleep) {
				return false
			}
		case <-ctx.Done():
			msgCancel()
			// An Ack racing the cancellation still counts: commit it so the
			// record is not delivered again after a clean shutdown.
			select {
			case <-msg.Acked():
				s.commit(ctx, reader, rec, logFields)
			default:
			}
			return false
		}
	}
}

// commit commits rec's offset, even when ctx is already cancelled. A failed
// commit means the record may be delivered again (at-least-once).
func (s *Subscriber) commit(ctx context.Context, reader *kafka.Reader, rec kafka.Message, logFields watermill.LogFields) {
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CommitTimeout)
	defer cancel()
	if err := reader.CommitMessages(commitCtx, rec); err != nil {
		s.cfg.Logger.Error("committing kafka offset", err, logFields.Add(watermill.LogFields{
			"partition": rec.Partition, "offset": rec.Offset}))
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close ends every subscription, closing their channels, and waits for their
// readers to leave the consumer group. It is idempotent.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
	})
	s.running.Wait()
	return nil
}
