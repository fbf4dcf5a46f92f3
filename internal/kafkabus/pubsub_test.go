package kafkabus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// TestPubSub runs watermill's conformance suite against the real broker, with
// synchronous commits and with interval commits. Each test gets its own
// consumer group per topic so parallel tests do not rebalance each other. The
// suite's short sizes are used unless EDGEFLOW_PUBSUB_FULL is set.
func TestPubSub(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	features := tests.Features{
		ConsumerGroups:                      true,
		ExactlyOnceDelivery:                 false,
		GuaranteedOrder:                     true, // per partition; the suite's topics have one
		GuaranteedOrderWithSingleSubscriber: false,
		Persistent:                          true,
		RequireSingleInstance:               false,
		NewSubscriberReceivesOldMessages:    false, // subscribers of one group share records
		ForceShort:                          os.Getenv("EDGEFLOW_PUBSUB_FULL") == "",
	}
	for _, commitInterval := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("commit_interval=%s", commitInterval), func(t *testing.T) {
			t.Parallel()
			newPubSub := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
				pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, ClientID: "edgeflow-test"})
				if err != nil {
					t.Fatal(err)
				}
				return pub, &groupPerTopic{t: t, group: group, cfg: kafkabus.SubscriberConfig{
					Brokers:         brokers,
					ClientID:        "edgeflow-test",
					NackResendSleep: 10 * time.Millisecond,
					CommitInterval:  commitInterval,
					Logger:          testLogger(),
				}}
			}
			tests.TestPubSub(t, features,
				func(t *testing.T) (message.Publisher, message.Subscriber) {
					return newPubSub(t, groupFor(t))
				},
				newPubSub,
			)
		})
	}
}

// groupFor names the consumer group of one suite test (all pub/subs a test
// creates share it, as the suite expects).
func groupFor(t *testing.T) string {
	return "test-" + strings.NewReplacer("/", ".", " ", "_", "=", "-").Replace(t.Name())
}

// groupPerTopic gives each topic its own consumer group (group + "." + topic),
// as applications should: separate readers of one group on different topics
// would rebalance each other on every join. TestConcurrentSubscribeMultipleTopics
// subscribes one Subscriber to twenty topics.
type groupPerTopic struct {
	t     *testing.T
	group string
	cfg   kafkabus.SubscriberConfig

	mu     sync.Mutex
	subs   []*kafkabus.Subscriber
	closed bool
}

func (g *groupPerTopic) subscriber(topic string) (*kafkabus.Subscriber, error) {
	cfg := g.cfg
	cfg.ConsumerGroup = g.group + "." + topic
	sub, err := kafkabus.NewSubscriber(cfg)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		sub.Close()
		return nil, kafkabus.ErrSubscriberClosed
	}
	g.subs = append(g.subs, sub)
	return sub, nil
}

func (g *groupPerTopic) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	sub, err := g.subscriber(topic)
	if err != nil {
		return nil, err
	}
	return sub.Subscribe(ctx, topic)
}

func (g *groupPerTopic) SubscribeInitialize(topic string) error {
	sub, err := g.subscriber(topic)
	if err != nil {
		return err
	}
	return sub.SubscribeInitialize(topic)
}

func (g *groupPerTopic) Close() error {
	g.mu.Lock()
	g.closed = true
	subs := g.subs
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() { defer wg.Done(); s.Close() }()
	}
	wg.Wait()
	return nil
}

// testLogger prints kafka client errors when EDGEFLOW_KAFKA_DEBUG is set.
func testLogger() watermill.LoggerAdapter {
	if os.Getenv("EDGEFLOW_KAFKA_DEBUG") == "" {
		return watermill.NopLogger{}
	}
	return watermill.NewStdLogger(true, os.Getenv("EDGEFLOW_KAFKA_DEBUG") == "trace")
}
