package kafka

import (
	"fmt"
	"math"
	"net"
	"time"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

// DefaultTopic is where edge nodes publish frames unless told otherwise.
const DefaultTopic = "edgeflow.frames"

// SinkConfig configures the kafka sink.
type SinkConfig struct {
	Topic             string        `yaml:"topic" doc:"Kafka topic to write to." example:"edgeflow.frames"`
	Brokers           []string      `yaml:"brokers" doc:"Bootstrap brokers as host:port. Empty: the node's brokers." example:"[kafka-1:9092, kafka-2:9092]"`
	CreateTopic       bool          `yaml:"create_topic" doc:"Create the topic when it does not exist, with partitions and replication_factor."`
	Partitions        int           `yaml:"partitions" doc:"Partitions of a topic the sink creates; streams are spread over them by node/stream key."`
	ReplicationFactor int           `yaml:"replication_factor" doc:"Replication factor of a topic the sink creates." advanced:"true"`
	ClientID          string        `yaml:"client_id" doc:"Client id shown in broker logs and metrics. Empty: edgeflow-<node id>." advanced:"true"`
	WriteTimeout      time.Duration `yaml:"write_timeout" doc:"How long one write may take, retries included, before it fails (and the messages are nacked)."`
	BatchTimeout      time.Duration `yaml:"batch_timeout" doc:"How long the writer waits to fill a batch before sending it." advanced:"true"`
}

func defaultSinkConfig() *SinkConfig {
	return &SinkConfig{
		Topic:             DefaultTopic,
		CreateTopic:       true,
		Partitions:        1,
		ReplicationFactor: 1,
		WriteTimeout:      30 * time.Second,
		BatchTimeout:      time.Millisecond,
	}
}

// Validate checks every field on its own; brokers may be empty here and are
// checked again at build, where the node's brokers are known.
func (c *SinkConfig) Validate() error {
	if err := kafkabus.ValidateTopic(c.Topic); err != nil {
		return stages.FieldErrorf("topic", "%w", err)
	}
	if err := validateBrokers(c.Brokers); err != nil {
		return err
	}
	if c.Partitions < 1 {
		return stages.FieldErrorf("partitions", "partitions %d: want at least 1", c.Partitions)
	}
	if c.ReplicationFactor < 1 {
		return stages.FieldErrorf("replication_factor", "replication_factor %d: want at least 1", c.ReplicationFactor)
	}
	if c.WriteTimeout <= 0 {
		return stages.FieldErrorf("write_timeout", "write_timeout %s: want a positive duration", c.WriteTimeout)
	}
	if c.BatchTimeout < 0 {
		return stages.FieldErrorf("batch_timeout", "batch_timeout %s: want zero or a positive duration", c.BatchTimeout)
	}
	return nil
}

// SourceConfig configures the kafka source.
type SourceConfig struct {
	Topic     string        `yaml:"topic" doc:"Kafka topic to read. Empty, with no topics either: edgeflow.frames." example:"edgeflow.frames"`
	Topics    []string      `yaml:"topics" doc:"More topics to read, in the same consumer group." example:"[edgeflow.frames, site-b.frames]"`
	Brokers   []string      `yaml:"brokers" doc:"Bootstrap brokers as host:port. Empty: the node's brokers." example:"[kafka-1:9092]"`
	Group     string        `yaml:"group" doc:"Consumer group. Members of a group share the topic's partitions, and the group remembers how far it got. Empty: edgeflow.<pipeline name>." example:"cloud-archive"`
	Start     string        `yaml:"start" doc:"Where a group without a committed offset starts: the oldest retained record or only new ones." enum:"oldest|newest"`
	ClientID  string        `yaml:"client_id" doc:"Client id shown in broker logs and metrics. Empty: edgeflow-<node id>." advanced:"true"`
	NackDelay time.Duration `yaml:"nack_delay" doc:"With max_in_flight 1: pause before a record the pipeline rejected is emitted again. With more, a rejected record is emitted again after a backoff growing from 100ms to 5s." advanced:"true"`
	// MaxInFlight lets the pipeline hold many records before acknowledging them.
	MaxInFlight int `yaml:"max_in_flight" doc:"Records emitted and not yet acknowledged, at most (across the source's partitions). A buffering stage (encode) acknowledges a record only once the frame holding it was written, so with 1 the source advances one record per max_age; with more, a full window asks the pipeline to flush at once. Offsets are committed in order all the same." advanced:"true"`
	// CommitInterval trades redelivery after a crash for throughput.
	CommitInterval time.Duration `yaml:"commit_interval" doc:"0: commit each record's offset as soon as the pipeline acks it, before the next record. Positive: commit acked offsets this often (and on close), much faster; after a crash up to this much acked work is read again." advanced:"true"`
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout decide how soon
	// the partitions of a member that died (SIGKILL, power loss) go to another
	// member; see docs/scheduling.md#failover.
	SessionTimeout    time.Duration `yaml:"session_timeout" doc:"How long the group coordinator waits for a heartbeat before it declares this member dead and gives its partitions to the other members. The broker accepts only values between its group.min.session.timeout.ms (6s by default) and group.max.session.timeout.ms (30m); outside them the source cannot join the group." advanced:"true"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" doc:"How often the member tells the group coordinator it is alive, and so how soon it learns of a rebalance. Less than session_timeout and rebalance_timeout; a third of session_timeout or less is usual." advanced:"true"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout" doc:"How long a rebalance waits for the members to join again, the dead ones included: when a node takes over a task whose previous member was killed, its records flow once the dead member's session_timeout or the group's rebalance timeout (the largest rebalance_timeout of its members, the dead one included) has passed, whichever comes first. A live member slower than this to rejoin is dropped and joins again (another rebalance). For fast failover set it to a few heartbeat intervals, e.g. 2s with heartbeat_interval 500ms." advanced:"true"`
}

func defaultSourceConfig() *SourceConfig {
	return &SourceConfig{
		Start:       string(kafkabus.StartOldest),
		NackDelay:   time.Second,
		MaxInFlight: stages.DefaultWindow,
		// kafkabus's group defaults: a dead member is noticed within 10s.
		SessionTimeout:    10 * time.Second,
		HeartbeatInterval: time.Second,
		RebalanceTimeout:  10 * time.Second,
	}
}

// Validate checks the topics, brokers, start position and delays.
func (c *SourceConfig) Validate() error {
	if c.Topic != "" {
		if err := kafkabus.ValidateTopic(c.Topic); err != nil {
			return stages.FieldErrorf("topic", "%w", err)
		}
	}
	seen := map[string]bool{c.Topic: c.Topic != ""}
	for i, topic := range c.Topics {
		field := fmt.Sprintf("topics[%d]", i)
		if err := kafkabus.ValidateTopic(topic); err != nil {
			return stages.FieldErrorf(field, "%w", err)
		}
		if seen[topic] {
			return stages.FieldErrorf(field, "topic %q is listed twice", topic)
		}
		seen[topic] = true
	}
	if err := validateBrokers(c.Brokers); err != nil {
		return err
	}
	switch kafkabus.Start(c.Start) {
	case kafkabus.StartOldest, kafkabus.StartNewest:
	default:
		return stages.FieldErrorf("start", "start %q unknown (want oldest or newest)", c.Start)
	}
	if c.NackDelay < 0 {
		return stages.FieldErrorf("nack_delay", "nack_delay %s: want zero or a positive duration", c.NackDelay)
	}
	if c.CommitInterval < 0 {
		return stages.FieldErrorf("commit_interval", "commit_interval %s: want zero or a positive duration", c.CommitInterval)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > maxInFlight {
		return stages.FieldErrorf("max_in_flight", "max_in_flight %d: want 1 to %d", c.MaxInFlight, maxInFlight)
	}
	return c.validateGroupTimes()
}

// validateGroupTimes checks the consumer-group timings against each other and
// against what the Kafka protocol can carry (milliseconds in an int32). The
// broker's own bounds on session_timeout are checked when the source joins.
func (c *SourceConfig) validateGroupTimes() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"session_timeout", c.SessionTimeout},
		{"heartbeat_interval", c.HeartbeatInterval},
		{"rebalance_timeout", c.RebalanceTimeout},
	} {
		if f.d < time.Millisecond || f.d > maxGroupTime {
			return stages.FieldErrorf(f.name, "%s %s: want 1ms to %s", f.name, f.d, maxGroupTime)
		}
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return stages.FieldErrorf("heartbeat_interval", "heartbeat_interval %s: want less than session_timeout %s (a third or less is usual)",
			c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.HeartbeatInterval >= c.RebalanceTimeout {
		return stages.FieldErrorf("heartbeat_interval", "heartbeat_interval %s: want less than rebalance_timeout %s (a live member learns of a rebalance at its next heartbeat)",
			c.HeartbeatInterval, c.RebalanceTimeout)
	}
	return nil
}

// maxGroupTime bounds the consumer-group timings: the protocol sends them as
// milliseconds in an int32 (about 24 days).
const maxGroupTime = time.Duration(math.MaxInt32) * time.Millisecond

// maxInFlight bounds max_in_flight: each record in flight holds its payload in
// memory.
const maxInFlight = 65536

// allTopics returns topic followed by topics, or DefaultTopic when both are empty.
func (c *SourceConfig) allTopics() []string {
	var out []string
	if c.Topic != "" {
		out = append(out, c.Topic)
	}
	out = append(out, c.Topics...)
	if len(out) == 0 {
		out = []string{DefaultTopic}
	}
	return out
}

func validateBrokers(brokers []string) error {
	for i, b := range brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || port == "" {
			return stages.FieldErrorf(fmt.Sprintf("brokers[%d]", i), "broker %q: want host:port", b)
		}
	}
	return nil
}

// brokersFor picks the configured brokers or else the node's, failing when
// neither names any.
func brokersFor(configured []string, env stages.Env) ([]string, error) {
	if len(configured) > 0 {
		return configured, nil
	}
	if len(env.Node.Brokers) > 0 {
		if err := validateBrokers(env.Node.Brokers); err != nil {
			return nil, stages.FieldErrorf("brokers", "the node's brokers: %w", err)
		}
		return env.Node.Brokers, nil
	}
	return nil, stages.FieldErrorf("brokers", "no Kafka brokers: set brokers in the stage or the node's brokers")
}

func clientID(configured string, env stages.Env) string {
	if configured != "" {
		return configured
	}
	if env.Node.ID != "" {
		return "edgeflow-" + env.Node.ID
	}
	return "edgeflow"
}
