package kafkabus

import (
	"context"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
)

// HeaderUUID is the Kafka record header holding the watermill message UUID. It is
// the name watermill's own Kafka adapter uses, so either side can read the other's
// records. Every metadata entry travels as a header of the same name.
const HeaderUUID = "_watermill_message_uuid"

// toKafka builds the Kafka record for msg. Metadata entries are written sorted
// by key so equal messages give equal records.
func toKafka(topic string, key []byte, msg *message.Message) kafka.Message {
	headers := make([]kafka.Header, 0, len(msg.Metadata)+1)
	headers = append(headers, kafka.Header{Key: HeaderUUID, Value: []byte(msg.UUID)})
	for _, k := range sortedKeys(msg.Metadata) {
		if k == HeaderUUID {
			continue
		}
		headers = append(headers, kafka.Header{Key: k, Value: []byte(msg.Metadata[k])})
	}
	return kafka.Message{Topic: topic, Key: key, Value: msg.Payload, Headers: headers}
}

// fromKafka builds a watermill message from a consumed record. A record without
// a UUID header (written by another producer) gets a fresh UUID; headers that
// are not valid UTF-8 are kept byte for byte (metadata values are Go strings).
// When a header repeats, the last value wins, as in Kafka's own clients.
func fromKafka(rec kafka.Message) *message.Message {
	uuid := ""
	md := make(message.Metadata, len(rec.Headers))
	for _, h := range rec.Headers {
		if h.Key == HeaderUUID {
			uuid = string(h.Value)
			continue
		}
		md[h.Key] = string(h.Value)
	}
	if uuid == "" || !utf8.ValidString(uuid) {
		uuid = watermill.NewUUID()
	}
	msg := message.NewMessage(uuid, rec.Value)
	msg.Metadata = md
	return msg
}

func sortedKeys(md message.Metadata) []string {
	return slices.Sorted(maps.Keys(md))
}

type recordKey struct{}

// Record describes where a consumed message came from.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
}

// RecordFromContext returns the Kafka position of a message handed out by a
// Subscriber (use msg.Context()); ok is false for other messages.
func RecordFromContext(ctx context.Context) (rec Record, ok bool) {
	rec, ok = ctx.Value(recordKey{}).(Record)
	return rec, ok
}
