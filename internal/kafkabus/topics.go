package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// maxTopicLength is Kafka's limit on topic name length.
const maxTopicLength = 249

// ValidateTopic reports whether name is a legal Kafka topic name: 1 to 249
// characters from [a-zA-Z0-9._-], and neither "." nor "..".
func ValidateTopic(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case len(name) > maxTopicLength:
		return fmt.Errorf("topic name is %d characters long, at most %d allowed", len(name), maxTopicLength)
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q: character %q at byte %d is not one of [a-zA-Z0-9._-]", name, r, i)
		}
	}
	return nil
}

// topicCreator creates topics through the cluster controller and remembers the
// ones known to exist, so each topic costs at most one round of requests.
type topicCreator struct {
	brokers           []string
	dialer            *kafka.Dialer
	partitions        int
	replicationFactor int
	timeout           time.Duration
	configs           []kafka.ConfigEntry // topic-level settings of created topics

	// client, when set, is the publisher's client: creating topics through
	// its transport makes that transport refresh its cached metadata, so the
	// writer sees a new topic at once instead of after the cache expires.
	client *kafka.Client

	mu    sync.Mutex
	known map[string]bool
}

func newTopicCreator(brokers []string, dialer *kafka.Dialer, partitions, replicationFactor int, timeout time.Duration) *topicCreator {
	return &topicCreator{brokers: brokers, dialer: dialer, partitions: partitions,
		replicationFactor: replicationFactor, timeout: timeout, known: map[string]bool{}}
}

// ensure creates topic unless it exists, then waits until every partition has
// a leader so writes and group joins do not race the creation.
func (c *topicCreator) ensure(ctx context.Context, topic string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known[topic] {
		return nil
	}
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.create(ctx, topic); err != nil {
		return fmt.Errorf("kafkabus: create topic %q: %w", topic, err)
	}
	c.known[topic] = true
	return nil
}

func (c *topicCreator) create(ctx context.Context, topic string) error {
	conn, err := c.dialAny(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// No metadata probe first: with auto.create.topics.enable a metadata request
	// would create the topic with the broker's defaults instead of ours.
	cfg := kafka.TopicConfig{Topic: topic, NumPartitions: c.partitions, ReplicationFactor: c.replicationFactor,
		ConfigEntries: c.configs}
	if c.client != nil {
		resp, err := c.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{cfg}})
		if err == nil {
			err = resp.Errors[topic]
		}
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("CreateTopics: %w", err)
		}
	} else if err := c.createViaController(ctx, conn, cfg); err != nil {
		return err
	}
	// Wait for the metadata to show a leader for every partition.
	for {
		parts, err := conn.ReadPartitions(topic)
		if err == nil && len(parts) > 0 && allLed(parts) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("partitions have no leader yet")
			}
			return fmt.Errorf("wait for topic metadata: %w (%w)", err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *topicCreator) createViaController(ctx context.Context, conn *kafka.Conn, cfg kafka.TopicConfig) error {
	controller, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("find controller: %w", err)
	}
	addr := net.JoinHostPort(controller.Host, strconv.Itoa(controller.Port))
	cc, err := c.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial controller %s: %w", addr, err)
	}
	defer cc.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = cc.SetDeadline(deadline)
	}
	err = cc.CreateTopics(cfg)
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("CreateTopics via controller %s: %w", addr, err)
	}
	return nil
}

func allLed(parts []kafka.Partition) bool {
	for _, p := range parts {
		if p.Leader.Host == "" {
			return false
		}
	}
	return true
}

// missing returns the topics the brokers do not know. It asks with a metadata
// request that cannot create topics, whatever the broker's
// auto.create.topics.enable says.
func (c *topicCreator) missing(ctx context.Context, topics []string) ([]string, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.brokers...), Transport: &kafka.Transport{Dial: c.dialer.DialFunc, ClientID: c.dialer.ClientID}}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	known := map[string]bool{}
	for _, t := range resp.Topics {
		if t.Error == nil && len(t.Partitions) > 0 {
			known[t.Name] = true
		}
	}
	var missing []string
	for _, t := range topics {
		if !known[t] {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

// dialAny connects to the first broker that answers.
func (c *topicCreator) dialAny(ctx context.Context) (*kafka.Conn, error) {
	var errs []error
	for _, b := range c.brokers {
		conn, err := c.dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			if deadline, ok := ctx.Deadline(); ok {
				_ = conn.SetDeadline(deadline)
			}
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("no broker answered: %w", errors.Join(errs...))
}
