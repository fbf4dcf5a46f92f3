package spool

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/edgeflow/edgeflow/internal/telemetry"
)

const meterName = "github.com/edgeflow/edgeflow/edge/spool"

// observe registers edgeflow_spool_depth (telemetry.ObserveSpoolDepth),
// edgeflow_spool_bytes, edgeflow_spool_messages_total{outcome} and
// edgeflow_spool_dropped_total{reason}.
func (s *Spool) observe(mp metric.MeterProvider, node, name string) ([]metric.Registration, error) {
	if name == "" {
		name = s.path
	}
	depth, err := telemetry.ObserveSpoolDepth(mp, node, name, func() int64 { return s.Stats().Depth })
	if err != nil {
		return nil, err
	}
	m := mp.Meter(meterName)
	bytes, err1 := m.Int64ObservableGauge("edgeflow.spool.bytes", metric.WithUnit("By"),
		metric.WithDescription("Bytes of the messages waiting in a node's durable spool."))
	msgs, err2 := m.Int64ObservableCounter("edgeflow.spool.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Messages a spool took (appended) and handed to its sink (forwarded)."))
	dropped, err3 := m.Int64ObservableCounter("edgeflow.spool.dropped", metric.WithUnit("{message}"),
		metric.WithDescription("Messages a spool deleted unsent: full (when_full: drop_oldest made room) or expired (older than max_age)."))
	blocked, err4 := m.Int64ObservableCounter("edgeflow.spool.blocked", metric.WithUnit("{write}"),
		metric.WithDescription("Writes into a spool that waited for room (when_full: block)."))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		depth.Unregister()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("node", node), attribute.String("spool", name)}
	with := func(k, v string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(append(attrs[:2:2], attribute.String(k, v))...))
	}
	base := metric.WithAttributeSet(attribute.NewSet(attrs...))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(bytes, st.Bytes, base)
		o.ObserveInt64(msgs, int64(st.Appended), with("outcome", "appended"))
		o.ObserveInt64(msgs, int64(st.Forwarded), with("outcome", "forwarded"))
		o.ObserveInt64(dropped, int64(st.DroppedFull), with("reason", "full"))
		o.ObserveInt64(dropped, int64(st.Expired), with("reason", "expired"))
		o.ObserveInt64(blocked, int64(st.Blocked), base)
		return nil
	}, bytes, msgs, dropped, blocked)
	if err != nil {
		depth.Unregister()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return []metric.Registration{depth, reg}, nil
}
