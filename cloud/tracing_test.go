package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/all"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// The handler gets the context of the consume span, which continues the
// trace the edge node wrote into the message's headers: spans the handler
// starts belong to the reading's trace.
func ExampleConsumer_tracing() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())

	enc, _ := frame.NewEncoder(frame.Options{Codec: frame.CodecZstd})
	payload, _ := enc.Encode(nil, &frame.Block{Node: "node-1", Stream: "temperature", Seq: 1,
		Timestamps: []int64{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}, Values: []float64{21.5}})
	m := message.NewMessage(watermill.NewUUID(), payload)
	m.Metadata.Set(stages.MetaKind, stages.KindFrame)
	m.Metadata.Set(stages.MetaNode, "node-1")
	// As the edge node's kafka sink wrote it (Kafka header traceparent).
	m.Metadata.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	sub := newMemorySubscriber(m)

	c, err := cloud.NewConsumer(cloud.ConsumerConfig{Topic: "edgeflow.frames", Subscriber: sub, TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = runUntilDone(c, sub, func(ctx context.Context, b cloud.Batch) error {
		_, span := tp.Tracer("dashboard").Start(ctx, "store readings")
		defer span.End()
		fmt.Println("handler in trace", trace.SpanContextFromContext(ctx).TraceID())
		return nil
	})
	for _, s := range rec.Ended() {
		fmt.Printf("%s: trace %s\n", s.Name(), s.SpanContext().TraceID())
	}
	// Output:
	// handler in trace 4bf92f3577b34da6a3ce929d0e0e4736
	// decode: trace 4bf92f3577b34da6a3ce929d0e0e4736
	// store readings: trace 4bf92f3577b34da6a3ce929d0e0e4736
	// consume edgeflow.frames: trace 4bf92f3577b34da6a3ce929d0e0e4736
}

// TestTraceAcrossKafkaKfake follows readings from a traced edge pipeline
// through an in-process Kafka-protocol broker into the consumer.
func TestTraceAcrossKafkaKfake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "traced.frames"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	testTraceAcrossKafka(t, cluster.ListenAddrs(), "traced.frames")
}

// TestTraceAcrossKafka does the same through the real broker.
func TestTraceAcrossKafka(t *testing.T) {
	testTraceAcrossKafka(t, kafkatest.Brokers(t), kafkatest.Topic(t))
}

func testTraceAcrossKafka(t *testing.T, brokers []string, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	edgeRec, cloudRec := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
	edgeTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(edgeRec))
	cloudTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(cloudRec))
	defer edgeTP.Shutdown(context.Background())
	defer cloudTP.Shutdown(context.Background())

	// Edge: 3 sensors × 10 ticks, encoded into one frame per stream, published.
	yaml := fmt.Sprintf(`name: traced
sources:
  - type: generate
    realtime: false
    count: 10
    start: "2026-01-01T00:00:00Z"
    sensors:
      - {name: temperature, kind: temperature}
      - {name: humidity, kind: humidity}
      - {name: vibration, kind: vibration}
stages:
  - type: encode
    block_size: 1000
sinks:
  - type: kafka
    topic: %s
`, topic)
	p, err := pipelines.Load("traced.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "node-7", Brokers: brokers}}, pipelines.WithTracing(edgeTP))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}

	// Cloud.
	c, err := cloud.NewConsumer(cloud.ConsumerConfig{Brokers: brokers, Topic: topic, Group: "trace-" + watermill.NewShortUUID(),
		Start: cloud.StartEarliest, LagInterval: -1, TracerProvider: cloudTP})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	handlerCtx := map[string]trace.SpanContext{} // stream → span context the handler got
	readings := 0
	err = c.Run(ctx, func(ctx context.Context, b cloud.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		handlerCtx[b.Stream] = trace.SpanContextFromContext(ctx)
		if readings += len(b.Readings); readings == 30 {
			return cloud.ErrStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, cloud.ErrStop) {
		t.Fatalf("Run: %v (%d readings)", err, readings)
	}

	edge := spansByID(edgeRec)
	publish := 0
	for _, s := range edgeRec.Ended() {
		if s.Name() == "publish "+topic {
			publish++
			if s.SpanKind() != trace.SpanKindProducer || attr(s, "messaging.system") != "kafka" || attr(s, "messaging.destination.name") != topic {
				t.Errorf("publish span kind %v attributes %v", s.SpanKind(), s.Attributes())
			}
		}
	}
	if publish == 0 {
		t.Fatalf("no publish span among %d edge spans", len(edgeRec.Ended()))
	}
	consumes := 0
	cloudSpans := spansByID(cloudRec)
	for _, s := range cloudRec.Ended() {
		switch s.Name() {
		case "consume " + topic:
			consumes++
			// consume ← publish ← flush ← ingest: one trace from the generator on.
			pub, ok := edge[s.Parent().SpanID()]
			if !ok || pub.Name() != "publish "+topic || !s.Parent().IsRemote() {
				t.Errorf("consume span's parent %v is not a publish span of the edge", s.Parent())
				continue
			}
			flush, ok := edge[pub.Parent().SpanID()]
			if !ok || flush.Name() != "flush encode" {
				t.Errorf("publish span's parent is not the flush span")
				continue
			}
			ingest, ok := edge[flush.Parent().SpanID()]
			if !ok || ingest.Name() != "ingest generate" || ingest.SpanContext().TraceID() != s.SpanContext().TraceID() {
				t.Errorf("flush span's parent is not an ingest span of the same trace")
			}
			if s.SpanKind() != trace.SpanKindConsumer || attr(s, "edgeflow.node.id") != "node-7" || attr(s, "edgeflow.pipeline") != "traced" ||
				attr(s, "messaging.destination.name") != topic || attr(s, "messaging.kafka.offset") == "" {
				t.Errorf("consume span kind %v attributes %v", s.SpanKind(), s.Attributes())
			}
		case "decode":
			parent, ok := cloudSpans[s.Parent().SpanID()]
			if !ok || parent.Name() != "consume "+topic {
				t.Errorf("decode span's parent is not a consume span")
			}
			if attr(s, "edgeflow.readings") != "10" || attr(s, "edgeflow.stream") == "" {
				t.Errorf("decode attributes %v", s.Attributes())
			}
		}
	}
	if consumes != 3 {
		t.Errorf("%d consume spans, want one per frame (3)", consumes)
	}
	for stream, sc := range handlerCtx {
		s, ok := cloudSpans[sc.SpanID()]
		if !ok || s.Name() != "consume "+topic {
			t.Errorf("%s: the handler's context is not the consume span's", stream)
		}
	}
}

func spansByID(rec *tracetest.SpanRecorder) map[trace.SpanID]sdktrace.ReadOnlySpan {
	m := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		m[s.SpanContext().SpanID()] = s
	}
	return m
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
