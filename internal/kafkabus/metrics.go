package kafkabus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of kafkabus metrics.
const meterName = "github.com/edgeflow/edgeflow/internal/kafkabus"

// publishBuckets are the bounds, in seconds, of the publish latency histogram
// (the same as telemetry.DurationBuckets; kafkabus does not import telemetry).
var publishBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// publishMetrics are a Publisher's instruments:
// edgeflow_kafka_publish_duration_seconds and edgeflow_kafka_publish_errors_total,
// both labelled with the topic.
type publishMetrics struct {
	duration metric.Float64Histogram
	errors   metric.Int64Counter
	topics   sync.Map // topic → *topicOptions
}

// topicOptions are the measurement options of one topic, built once so that
// recording does not allocate.
type topicOptions struct {
	record []metric.RecordOption
	add    []metric.AddOption
}

func newPublishMetrics(mp metric.MeterProvider) (*publishMetrics, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(meterName)
	duration, err := m.Float64Histogram("edgeflow.kafka.publish.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of one Publish call: topic creation if needed, the write and the wait for acks=all."),
		metric.WithExplicitBucketBoundaries(publishBuckets...))
	if err != nil {
		return nil, fmt.Errorf("kafkabus: metrics: %w", err)
	}
	errs, err := m.Int64Counter("edgeflow.kafka.publish.errors", metric.WithUnit("{call}"),
		metric.WithDescription("Publish calls that failed (after the writer's own retries)."))
	if err != nil {
		return nil, fmt.Errorf("kafkabus: metrics: %w", err)
	}
	return &publishMetrics{duration: duration, errors: errs}, nil
}

func (pm *publishMetrics) optionsOf(topic string) *topicOptions {
	if o, ok := pm.topics.Load(topic); ok {
		return o.(*topicOptions)
	}
	set := metric.WithAttributeSet(attribute.NewSet(attribute.String("topic", topic)))
	o, _ := pm.topics.LoadOrStore(topic, &topicOptions{record: []metric.RecordOption{set}, add: []metric.AddOption{set}})
	return o.(*topicOptions)
}

// observe records one Publish call to topic that started at start.
func (pm *publishMetrics) observe(ctx context.Context, topic string, start time.Time, err error) {
	o := pm.optionsOf(topic)
	pm.duration.Record(ctx, time.Since(start).Seconds(), o.record...)
	if err != nil {
		pm.errors.Add(ctx, 1, o.add...)
	}
}

// CheckBrokers reports whether the Kafka cluster answers: it asks one of
// brokers for the cluster's metadata (the broker list, no topics). It is cheap
// enough for a readiness probe, yet wrap it in a cache (telemetry.CachedCheck)
// when probes come often. ctx bounds the call.
func CheckBrokers(ctx context.Context, brokers []string) error {
	if err := validateBrokers(brokers); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	tr := &kafka.Transport{ClientID: "edgeflow-health", MetadataTTL: time.Second}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	resp, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return fmt.Errorf("kafkabus: brokers %v: metadata: %w", brokers, err)
	}
	if len(resp.Brokers) == 0 {
		return fmt.Errorf("kafkabus: brokers %v: metadata lists no brokers", brokers)
	}
	return nil
}
