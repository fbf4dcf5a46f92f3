package cloud

import (
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Metadata keys a Kafka subscriber may set (placeholder until the bus lands).
const (
	metaTopic         = "kafka-topic"
	metaPartition     = "kafka-partition"
	metaOffset        = "kafka-offset"
	metaHighWaterMark = "kafka-high-water-mark"
)

func newKafkaSubscriber(cfg ConsumerConfig, log *slog.Logger) (message.Subscriber, error) {
	return nil, fmt.Errorf("kafka subscriber not available")
}
