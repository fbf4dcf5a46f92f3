package cloud

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of cloud consumer metrics.
const meterName = "github.com/edgeflow/edgeflow/cloud"

// RegisterMetrics exports the consumer's Stats through mp, read at each
// collection and labelled with the topic and group:
// edgeflow_consumer_messages_total, _frames_total, _readings_total,
// _duplicates_total (frames dropped as already delivered), _decode_errors_total,
// _handler_errors_total, and the gauge edgeflow_consumer_lag_messages (from the
// last lag poll; absent until known). Unregister the result when the consumer
// is gone.
func (c *Consumer) RegisterMetrics(mp metric.MeterProvider) (metric.Registration, error) {
	m := mp.Meter(meterName)
	counter := func(name, desc string) (metric.Int64ObservableCounter, error) {
		return m.Int64ObservableCounter(name, metric.WithUnit("{message}"), metric.WithDescription(desc))
	}
	var errs []error
	collect := func(i metric.Int64ObservableCounter, err error) metric.Int64ObservableCounter {
		errs = append(errs, err)
		return i
	}
	messages := collect(counter("edgeflow.consumer.messages", "Kafka messages received, redeliveries included."))
	frames := collect(counter("edgeflow.consumer.frames", "Frames delivered to the handler."))
	readings := collect(counter("edgeflow.consumer.readings", "Readings delivered to the handler."))
	duplicates := collect(counter("edgeflow.consumer.duplicates", "Frames dropped as already delivered (stale ones included)."))
	decodeErrs := collect(counter("edgeflow.consumer.decode_errors", "Corrupt or undecodable messages, skipped."))
	handlerErrs := collect(counter("edgeflow.consumer.handler_errors", "Handler errors; each makes its message be redelivered."))
	lag, err := m.Int64ObservableGauge("edgeflow.consumer.lag.messages",
		metric.WithDescription("Messages of the topic the group has not committed yet, summed over partitions."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("cloud: metrics: %w", err)
	}
	set := metric.WithAttributeSet(attribute.NewSet(attribute.String("topic", c.cfg.Topic), attribute.String("group", c.cfg.Group)))
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		s := c.Stats()
		o.ObserveInt64(messages, int64(s.Messages), set)
		o.ObserveInt64(frames, int64(s.Frames), set)
		o.ObserveInt64(readings, int64(s.Readings), set)
		o.ObserveInt64(duplicates, int64(s.Duplicates), set)
		o.ObserveInt64(decodeErrs, int64(s.DecodeErrors), set)
		o.ObserveInt64(handlerErrs, int64(s.HandlerErrors), set)
		if s.Lag >= 0 {
			o.ObserveInt64(lag, s.Lag, set)
		}
		return nil
	}, messages, frames, readings, duplicates, decodeErrs, handlerErrs, lag)
	if err != nil {
		return nil, fmt.Errorf("cloud: metrics: %w", err)
	}
	return reg, nil
}

// Ready is a readiness check (telemetry.Check): nil while Run runs and, for a
// Kafka consumer, the brokers report the consumer group stable with a member
// assigned partitions of the topic. Each call asks the group coordinator once;
// cache it (telemetry.CachedCheck) for frequent probes.
func (c *Consumer) Ready(ctx context.Context) error {
	if !c.running.Load() {
		return fmt.Errorf("consumer of topic %q is not running", c.cfg.Topic)
	}
	if c.lag == nil {
		return nil // an injected subscriber: nothing more to ask
	}
	return c.lag.joined(ctx)
}

// joined reports whether the group is stable with a member that has partitions
// of the topic.
func (l *lagReader) joined(ctx context.Context) error {
	resp, err := l.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{l.group}})
	if err != nil {
		return fmt.Errorf("describe group %q: %w", l.group, err)
	}
	for _, g := range resp.Groups {
		if g.GroupID != l.group {
			continue
		}
		if g.Error != nil {
			return fmt.Errorf("describe group %q: %w", l.group, g.Error)
		}
		if g.GroupState != "Stable" {
			return fmt.Errorf("group %q is %s, not Stable", l.group, g.GroupState)
		}
		for _, m := range g.Members {
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == l.topic && len(t.Partitions) > 0 {
					return nil
				}
			}
		}
		return fmt.Errorf("group %q has no member with partitions of topic %q", l.group, l.topic)
	}
	return fmt.Errorf("group %q unknown to the brokers", l.group)
}
