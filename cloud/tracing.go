package cloud

import (
	"context"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
)

// consumerTracer starts the spans of a Consumer:
//
//	consume <topic>  (kind consumer) per Kafka message, child of the trace
//	                 context in its headers (traceparent, tracestate, baggage)
//	decode           child of consume: decoding the frames or readings
//
// The handler gets the context of the consume span, so spans it starts
// continue the trace of the reading from its edge node.
type consumerTracer struct {
	tracer      trace.Tracer
	consumeName string
	attrs       []attribute.KeyValue
}

func newConsumerTracer(tp trace.TracerProvider, topic string) *consumerTracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &consumerTracer{
		tracer:      tp.Tracer(telemetry.TracerName),
		consumeName: "consume " + topic,
		attrs: []attribute.KeyValue{
			telemetry.AttrMessagingSystem.String("kafka"),
			telemetry.AttrMessagingDestination.String(topic),
		},
	}
}

// startConsume begins the consume span of msg, read at pos.
func (t *consumerTracer) startConsume(ctx context.Context, msg *message.Message, pos Position) (context.Context, trace.Span) {
	ctx = telemetry.ExtractMetadata(ctx, msg.Metadata)
	ctx, span := t.tracer.Start(ctx, t.consumeName, trace.WithSpanKind(trace.SpanKindConsumer))
	if !span.IsRecording() {
		return ctx, span
	}
	span.SetAttributes(t.attrs...)
	if pos.Partition >= 0 {
		span.SetAttributes(telemetry.AttrKafkaPartition.Int(pos.Partition),
			telemetry.AttrPartitionID.String(strconv.Itoa(pos.Partition)))
	}
	if pos.Offset >= 0 {
		span.SetAttributes(telemetry.AttrKafkaOffset.Int64(pos.Offset))
	}
	node := firstNonEmpty(msg.Metadata.Get(stages.MetaNode), telemetry.BaggageValue(ctx, string(telemetry.AttrNodeID)))
	if node != "" {
		span.SetAttributes(telemetry.AttrNodeID.String(node))
	}
	pipeline := firstNonEmpty(msg.Metadata.Get(stages.MetaPipeline), telemetry.BaggageValue(ctx, string(telemetry.AttrPipeline)))
	if pipeline != "" {
		span.SetAttributes(telemetry.AttrPipeline.String(pipeline))
	}
	return ctx, span
}

// startDecode begins the decode span, child of the consume span in ctx.
func (t *consumerTracer) startDecode(ctx context.Context) trace.Span {
	_, span := t.tracer.Start(ctx, "decode")
	return span
}

// endDecode ends the decode span with what decoding gave.
func endDecode(span trace.Span, batches []Batch, err error) {
	if span.IsRecording() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			n, stream := 0, ""
			for i, b := range batches {
				n += len(b.Readings)
				if i == 0 {
					stream = b.Stream
				} else if b.Stream != stream {
					stream = ""
				}
			}
			span.SetAttributes(telemetry.AttrReadings.Int(n), telemetry.AttrBatchSize.Int(len(batches)))
			if stream != "" {
				span.SetAttributes(telemetry.AttrStream.String(stream))
			}
		}
	}
	span.End()
}

// failSpan marks span failed with err.
func failSpan(span trace.Span, err error) {
	if span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
