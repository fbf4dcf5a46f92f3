package kafkabus_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// TestPublisherTopicConfig: a topic the publisher creates gets its TopicConfig.
func TestPublisherTopicConfig(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers,
		TopicConfig: map[string]string{"cleanup.policy": "compact"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	msg := message.NewMessage(watermill.NewUUID(), []byte("x"))
	msg.Metadata.Set("edgeflow-node", "n1")
	if err := pub.Publish(topic, msg); err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	resp, err := client.DescribeConfigs(t.Context(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				if e.ConfigValue != "compact" {
					t.Fatalf("cleanup.policy = %q, want compact", e.ConfigValue)
				}
				return
			}
		}
	}
	t.Fatalf("no cleanup.policy in %+v", resp)
}
