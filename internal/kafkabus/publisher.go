package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/metric"
)

// Metadata keys of the default record key (the same strings as stages.MetaNode
// and stages.MetaStream; kafkabus does not import the stage contract).
const (
	metaNode   = "edgeflow-node"
	metaStream = "edgeflow-stream"
)

// KeyFunc chooses the Kafka record key of a message. Records with equal keys go
// to the same partition, so their order is kept. A nil key spreads records
// over partitions round-robin.
type KeyFunc func(topic string, msg *message.Message) []byte

// NodeStreamKey is the default KeyFunc: metadata edgeflow-node + "/" +
// edgeflow-stream, so the frames of one sensor stream stay in order. Messages
// carrying neither get a nil key.
func NodeStreamKey(_ string, msg *message.Message) []byte {
	node, stream := msg.Metadata.Get(metaNode), msg.Metadata.Get(metaStream)
	if node == "" && stream == "" {
		return nil
	}
	return []byte(node + "/" + stream)
}

// PublisherConfig configures a Publisher. Only Brokers is required.
type PublisherConfig struct {
	// Brokers are bootstrap addresses, host:port.
	Brokers []string
	// ClientID names this client in broker logs and quotas (default "edgeflow").
	ClientID string
	// Key chooses each record's key (default NodeStreamKey).
	Key KeyFunc
	// DisableTopicCreation turns off creating missing topics; the broker's
	// auto-creation (if enabled) then decides their layout.
	DisableTopicCreation bool
	// Partitions and ReplicationFactor of topics the publisher creates (default 1 and 1).
	Partitions        int
	ReplicationFactor int
	// TopicConfig are topic-level settings of the topics the publisher
	// creates, e.g. {"cleanup.policy": "compact"} (default: the broker's).
	TopicConfig map[string]string
	// WriteTimeout bounds one Publish call including retries (default 30s).
	WriteTimeout time.Duration
	// BatchTimeout is how long the writer waits to fill a batch before sending
	// (default 1ms; kafka-go's own default of 1s would delay every Publish).
	BatchTimeout time.Duration
	// DialTimeout bounds connecting to a broker (default 10s).
	DialTimeout time.Duration
	// Logger receives errors and debug output (default: none).
	Logger watermill.LoggerAdapter
	// MeterProvider makes the publish latency and error instruments (default:
	// the global one, otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
}

func (c *PublisherConfig) setDefaults() {
	if c.ClientID == "" {
		c.ClientID = "edgeflow"
	}
	if c.Key == nil {
		c.Key = NodeStreamKey
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 1
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = time.Millisecond
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
}

func validateBrokers(brokers []string) error {
	if len(brokers) == 0 {
		return errors.New("kafkabus: brokers: at least one broker address is required")
	}
	for i, b := range brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("kafkabus: brokers[%d] %q: want host:port: %w", i, b, err)
		}
	}
	return nil
}

// Publisher is a watermill message.Publisher writing to Kafka. Publish returns
// once every in-sync replica has the records (acks=all). Records are lz4
// compressed and partitioned by a hash of their key. It is safe for
// concurrent use.
type Publisher struct {
	cfg       PublisherConfig
	writer    *kafka.Writer
	transport *kafka.Transport
	topics    *topicCreator
	metrics   *publishMetrics

	closeOnce sync.Once
	mu        sync.RWMutex // held for reading by Publish, for writing by Close
	closed    bool
}

// NewPublisher returns a Publisher; it does not connect until the first Publish.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	cfg.setDefaults()
	if err := validateBrokers(cfg.Brokers); err != nil {
		return nil, err
	}
	dialer := &kafka.Dialer{ClientID: cfg.ClientID, Timeout: cfg.DialTimeout, DualStack: true}
	transport := &kafka.Transport{ClientID: cfg.ClientID, DialTimeout: cfg.DialTimeout, MetadataTTL: metadataTTL}
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  kafka.Lz4,
		BatchTimeout: cfg.BatchTimeout,
		WriteTimeout: cfg.WriteTimeout,
		Transport:    transport,
		ErrorLogger:  kafka.LoggerFunc(func(f string, a ...any) { cfg.Logger.Error("kafka writer", fmt.Errorf(f, a...), nil) }),
		// Topics are created by the publisher (unless disabled) with the
		// configured layout; broker-side auto-creation is a fallback.
		AllowAutoTopicCreation: cfg.DisableTopicCreation,
	}
	pm, err := newPublishMetrics(cfg.MeterProvider)
	if err != nil {
		return nil, err
	}
	p := &Publisher{cfg: cfg, writer: w, transport: transport, metrics: pm}
	if !cfg.DisableTopicCreation {
		p.topics = newTopicCreator(cfg.Brokers, dialer, cfg.Partitions, cfg.ReplicationFactor, cfg.WriteTimeout)
		p.topics.client = &kafka.Client{Addr: w.Addr, Transport: transport}
		for k, v := range cfg.TopicConfig {
			p.topics.configs = append(p.topics.configs, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
	}
	return p, nil
}

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("kafkabus: publisher closed")

// Publish writes msgs to topic and returns when all are acknowledged or
// WriteTimeout passed. Message contexts are not used: a message handed out by
// a Subscriber has its context cancelled once Acked, yet may well be published
// on. Use PublishContext to bound the call.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	return p.PublishContext(context.Background(), topic, msgs...)
}

// PublishContext is Publish bounded by ctx.
func (p *Publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) (err error) {
	if len(msgs) > 0 {
		start := time.Now()
		defer func() { p.metrics.observe(ctx, topic, start, err) }()
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrPublisherClosed
	}
	if err := ValidateTopic(topic); err != nil {
		return fmt.Errorf("kafkabus: publish: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	if p.topics != nil {
		if err := p.topics.ensure(ctx, topic); err != nil {
			return err
		}
	}
	records := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		records[i] = toKafka(topic, p.cfg.Key(topic, m), m)
	}
	for {
		err := p.writer.WriteMessages(ctx, records...)
		if err == nil {
			return nil
		}
		// A topic made by another client moments ago is missing from the
		// writer's cached metadata until its next refresh: wait for it.
		if !errors.Is(err, kafka.UnknownTopicOrPartition) || !sleep(ctx, unknownTopicBackoff) {
			return fmt.Errorf("kafkabus: publish %d message(s) to %q: %w", len(msgs), topic, err)
		}
	}
}

// unknownTopicBackoff is the wait between writes to a topic the writer's
// metadata does not show yet; the transport refreshes it every metadataTTL.
const (
	unknownTopicBackoff = 200 * time.Millisecond
	metadataTTL         = 2 * time.Second
)

// Close flushes pending writes and releases connections. It is idempotent.
func (p *Publisher) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		err = p.writer.Close()
		p.transport.CloseIdleConnections()
	})
	return err
}

// Probe reports whether the brokers answer now: a metadata request for topic
// over a new connection (not the writer's, which may hang on a link that
// went down), bounded by ctx. A topic that exists must have a leader for every
// partition; a missing one counts as reachable (Publish creates it). It is
// cheap enough to call every second while writes fail, to notice at once that
// the link is back.
func (p *Publisher) Probe(ctx context.Context, topic string) error {
	transport := &kafka.Transport{ClientID: p.cfg.ClientID, DialTimeout: p.cfg.DialTimeout}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(p.cfg.Brokers...), Transport: transport}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafkabus: probe: metadata: %w", err)
	}
	for _, t := range resp.Topics {
		if t.Name != topic || t.Error != nil {
			continue
		}
		for _, part := range t.Partitions {
			if part.Leader.Host == "" || part.Error != nil {
				return fmt.Errorf("kafkabus: probe: topic %q partition %d has no leader", topic, part.ID)
			}
		}
	}
	return nil
}
