package kafkabus

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		metadata map[string]string
		payload  []byte
	}{
		{"no metadata", nil, []byte("x")},
		{"edgeflow metadata", map[string]string{"edgeflow-kind": "frame", "edgeflow-node": "n1", "edgeflow-stream": "temp", "edgeflow-seq": "7"}, []byte{0, 1, 2}},
		{"empty payload and value", map[string]string{"k": ""}, nil},
		{"unicode", map[string]string{"grüße": "żółw ✓"}, []byte("ü")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := message.NewMessage("6a1b4f5e-0000-4000-8000-000000000001", tt.payload)
			for k, v := range tt.metadata {
				msg.Metadata.Set(k, v)
			}
			rec := toKafka("t", NodeStreamKey("t", msg), msg)
			if rec.Headers[0].Key != HeaderUUID || string(rec.Headers[0].Value) != msg.UUID {
				t.Fatalf("first header %+v, want the UUID", rec.Headers[0])
			}
			got := fromKafka(rec)
			if got.UUID != msg.UUID || !bytes.Equal(got.Payload, msg.Payload) {
				t.Fatalf("got %s %q, want %s %q", got.UUID, got.Payload, msg.UUID, msg.Payload)
			}
			if len(got.Metadata) != len(tt.metadata) {
				t.Fatalf("metadata %v, want %v", got.Metadata, tt.metadata)
			}
			for k, v := range tt.metadata {
				if got.Metadata.Get(k) != v {
					t.Errorf("metadata %s = %q, want %q", k, got.Metadata.Get(k), v)
				}
			}
		})
	}
}

func TestFromKafkaForeignRecord(t *testing.T) {
	rec := kafka.Message{Value: []byte("v"), Headers: []kafka.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2")}}}
	got := fromKafka(rec)
	if got.UUID == "" {
		t.Error("record without UUID header got an empty UUID")
	}
	if got.Metadata.Get("a") != "2" {
		t.Errorf("repeated header: got %q, want the last value", got.Metadata.Get("a"))
	}
}

func TestNodeStreamKey(t *testing.T) {
	tests := []struct {
		node, stream string
		want         []byte
	}{
		{"n1", "temp", []byte("n1/temp")},
		{"n1", "", []byte("n1/")},
		{"", "", nil},
	}
	for _, tt := range tests {
		msg := message.NewMessage("u", nil)
		if tt.node != "" {
			msg.Metadata.Set(metaNode, tt.node)
		}
		if tt.stream != "" {
			msg.Metadata.Set(metaStream, tt.stream)
		}
		if got := NodeStreamKey("t", msg); !bytes.Equal(got, tt.want) {
			t.Errorf("NodeStreamKey(%q, %q) = %q, want %q", tt.node, tt.stream, got, tt.want)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		topic string
		ok    bool
	}{
		{"edgeflow.frames", true},
		{"a-b_c.D9", true},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
		{"", false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a/b", false},
		{"ü", false},
	}
	for _, tt := range tests {
		if err := ValidateTopic(tt.topic); (err == nil) != tt.ok {
			t.Errorf("ValidateTopic(%q) = %v, want ok=%v", tt.topic, err, tt.ok)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewPublisher(PublisherConfig{}); err == nil {
		t.Error("NewPublisher without brokers: no error")
	}
	if _, err := NewPublisher(PublisherConfig{Brokers: []string{"nohost"}}); err == nil || !strings.Contains(err.Error(), "brokers[0]") {
		t.Errorf("NewPublisher with a bad broker: error %v, want one naming brokers[0]", err)
	}
	if _, err := NewSubscriber(SubscriberConfig{Brokers: []string{"h:1"}, Start: "middle"}); err == nil {
		t.Error("NewSubscriber with start middle: no error")
	}
}

// FuzzFromKafka: any record turns into a message without panicking, and a
// message's record turns back into the same message.
func FuzzFromKafka(f *testing.F) {
	f.Add([]byte("payload"), "edgeflow-node", []byte("n1"), HeaderUUID, []byte("uuid-1"))
	f.Add([]byte{}, HeaderUUID, []byte{0xff, 0xfe}, "", []byte(nil))
	f.Add([]byte{0}, "k", []byte(""), "k", []byte("again"))
	f.Fuzz(func(t *testing.T, value []byte, k1 string, v1 []byte, k2 string, v2 []byte) {
		rec := kafka.Message{Topic: "t", Value: value, Headers: []kafka.Header{{Key: k1, Value: v1}, {Key: k2, Value: v2}}}
		msg := fromKafka(rec)
		if msg.UUID == "" {
			t.Fatal("empty UUID")
		}
		back := fromKafka(toKafka("t", nil, msg))
		if back.UUID != msg.UUID || !bytes.Equal(back.Payload, msg.Payload) || !maps.Equal(back.Metadata, msg.Metadata) {
			t.Fatalf("round trip changed the message: %v %q %v -> %v %q %v",
				msg.UUID, msg.Payload, msg.Metadata, back.UUID, back.Payload, back.Metadata)
		}
	})
}
