package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
)

// Partition names one partition of one topic.
type Partition struct {
	Topic     string
	Partition int
}

// ContextWithRecord returns ctx carrying rec, as the messages of a Subscriber
// and of ReadAll carry theirs (RecordFromContext): for tests of code that
// reads it.
func ContextWithRecord(ctx context.Context, rec Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// ReadAll hands each to every record of topic written before the call, from
// the oldest still retained, partition by partition in offset order, and
// returns once it read them all (nil), ctx ended or reading failed. It joins no
// consumer group and commits nothing: for tools that show the state a topic
// holds (the latest task, assignment or status per key), which a subscription
// read for a fixed time may show only in part, as joining a group can take
// seconds on a busy broker. A topic that does not exist is empty. Messages
// carry their Record (RecordFromContext).
func ReadAll(ctx context.Context, brokers []string, topic string, each func(*message.Message)) error {
	if err := validateBrokers(brokers); err != nil {
		return err
	}
	if err := ValidateTopic(topic); err != nil {
		return fmt.Errorf("kafkabus: read %s: %w", topic, err)
	}
	transport := &kafka.Transport{ClientID: "edgeflow", DialTimeout: 10 * time.Second}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafkabus: read %s: metadata: %w", topic, err)
	}
	var offsets []kafka.OffsetRequest
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return nil
		}
		if t.Error != nil {
			return fmt.Errorf("kafkabus: read %s: metadata: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			offsets = append(offsets, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	listed, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: offsets}})
	if err != nil {
		return fmt.Errorf("kafkabus: read %s: offsets: %w", topic, err)
	}
	dialer := &kafka.Dialer{ClientID: "edgeflow", Timeout: 10 * time.Second, DualStack: true}
	for _, p := range listed.Topics[topic] {
		if p.Error != nil {
			return fmt.Errorf("kafkabus: read %s partition %d: offsets: %w", topic, p.Partition, p.Error)
		}
		if err := readRange(ctx, brokers, dialer, topic, p, each); err != nil {
			return err
		}
	}
	return nil
}

// readRange reads one partition from p.FirstOffset up to p.LastOffset (the
// offset the next record will get).
func readRange(ctx context.Context, brokers []string, dialer *kafka.Dialer, topic string, p kafka.PartitionOffsets, each func(*message.Message)) error {
	if p.FirstOffset >= p.LastOffset {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.Partition, Dialer: dialer,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(p.FirstOffset); err != nil {
		return fmt.Errorf("kafkabus: read %s partition %d: %w", topic, p.Partition, err)
	}
	for {
		rec, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("kafkabus: read %s partition %d up to offset %d: %w", topic, p.Partition, p.LastOffset, err)
		}
		msg := fromKafka(rec)
		msg.SetContext(context.WithValue(ctx, recordKey{}, Record{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key}))
		each(msg)
		// Compaction never removes a partition's last record, so the one
		// before LastOffset comes; a newer record past it ends the read too.
		if rec.Offset+1 >= p.LastOffset {
			return nil
		}
	}
}
