package telemetry_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/internal/telemetry"
)

// sendCtx is a context with a sampled span and the node's baggage, as a
// sink sees it.
func sendCtx(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	ctx = baggage.ContextWithBaggage(ctx, telemetry.NodeBaggage(baggage.Baggage{}, "node-1", "demo"))
	return ctx, sc
}

// checkReceived checks that md carries sc and the node's baggage.
func checkReceived(t *testing.T, md map[string]string, sc trace.SpanContext) {
	t.Helper()
	ctx := telemetry.ExtractMetadata(context.Background(), md)
	got := trace.SpanContextFromContext(ctx)
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
		t.Errorf("extracted %v from traceparent %q; want %v", got, md[telemetry.MetaTraceparent], sc)
	}
	if v := telemetry.BaggageValue(ctx, "edgeflow.node.id"); v != "node-1" {
		t.Errorf("baggage edgeflow.node.id = %q (header %q)", v, md[telemetry.MetaBaggage])
	}
	if v := telemetry.BaggageValue(ctx, "edgeflow.pipeline"); v != "demo" {
		t.Errorf("baggage edgeflow.pipeline = %q", v)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	ctx, sc := sendCtx(t)
	md := message.Metadata{"edgeflow-kind": "frame",
		// a previous hop's context is replaced, not merged
		telemetry.MetaTraceparent: "00-11111111111111111111111111111111-2222222222222222-01",
		telemetry.MetaTracestate:  "old=1"}
	telemetry.InjectMetadata(ctx, md)
	if md[telemetry.MetaTraceparent] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent %q", md[telemetry.MetaTraceparent])
	}
	if _, ok := md[telemetry.MetaTracestate]; ok {
		t.Errorf("stale tracestate kept: %q", md[telemetry.MetaTracestate])
	}
	if md["edgeflow-kind"] != "frame" {
		t.Error("other metadata changed")
	}
	checkReceived(t, md, sc)

	// Without a span in ctx, injecting removes what a previous hop left.
	telemetry.InjectMetadata(context.Background(), md)
	if telemetry.HasTraceContext(md) {
		t.Errorf("traceparent %q left after injecting an empty context", md[telemetry.MetaTraceparent])
	}
	if got := telemetry.ExtractMetadata(context.Background(), message.Metadata{}); got != context.Background() {
		t.Error("extracting from metadata without trace context made a new context")
	}
}

func TestNodeBaggageKeepsOtherMembers(t *testing.T) {
	m, _ := baggage.NewMemberRaw("tenant", "acme")
	old, _ := baggage.NewMemberRaw("edgeflow.node.id", "upstream")
	base, _ := baggage.New(m, old)
	b := telemetry.NodeBaggage(base, "node-2", "relay")
	if b.Member("tenant").Value() != "acme" || b.Member("edgeflow.node.id").Value() != "node-2" || b.Member("edgeflow.pipeline").Value() != "relay" {
		t.Errorf("baggage %s", b)
	}
}

// TestTraceContextThroughKafka checks that the metadata keys travel as Kafka
// headers both ways through the Kafka bus, against the real broker.
func TestTraceContextThroughKafka(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sendctx, sc := sendCtx(t)
	msg := message.NewMessage("traced-1", []byte("payload"))
	telemetry.InjectMetadata(sendctx, msg.Metadata)
	if err := pub.PublishContext(ctx, topic, msg); err != nil {
		t.Fatal(err)
	}

	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-msgs:
		got.Ack()
		if got.UUID != "traced-1" {
			t.Fatalf("got message %s", got.UUID)
		}
		checkReceived(t, got.Metadata, sc)
	case <-ctx.Done():
		t.Fatal("no message came back from Kafka")
	}
}
