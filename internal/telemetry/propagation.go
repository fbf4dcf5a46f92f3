package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// Message metadata keys (and so Kafka header names) that carry the trace
// context, as the W3C Trace Context and Baggage specifications name them.
const (
	MetaTraceparent = "traceparent"
	MetaTracestate  = "tracestate"
	MetaBaggage     = "baggage"
)

var w3cPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Propagator is the propagator of edgeflow: W3C trace context and baggage.
func Propagator() propagation.TextMapPropagator { return w3cPropagator }

// InjectMetadata writes the span context and baggage of ctx into md (message
// metadata, which sinks turn into Kafka headers): traceparent, tracestate and
// baggage. Keys of a previous hop are replaced or removed, so md describes ctx
// only.
func InjectMetadata(ctx context.Context, md map[string]string) {
	if md == nil {
		return
	}
	delete(md, MetaTraceparent)
	delete(md, MetaTracestate)
	delete(md, MetaBaggage)
	w3cPropagator.Inject(ctx, propagation.MapCarrier(md))
}

// ExtractMetadata returns ctx with the remote span context and baggage md
// carries, if any. It is cheap when md has no traceparent.
func ExtractMetadata(ctx context.Context, md map[string]string) context.Context {
	if md == nil {
		return ctx
	}
	_, hasParent := md[MetaTraceparent]
	_, hasBaggage := md[MetaBaggage]
	if !hasParent && !hasBaggage {
		return ctx
	}
	return w3cPropagator.Extract(ctx, propagation.MapCarrier(md))
}

// HasTraceContext reports whether md carries a traceparent.
func HasTraceContext(md map[string]string) bool {
	_, ok := md[MetaTraceparent]
	return ok
}

// NodeBaggage is the baggage edgeflow adds on an edge node: edgeflow.node.id
// and edgeflow.pipeline (empty values are left out), on top of the members of
// base (a previous hop's, whose node and pipeline are replaced).
func NodeBaggage(base baggage.Baggage, nodeID, pipeline string) baggage.Baggage {
	b := base
	for _, kv := range [...][2]string{{string(AttrNodeID), nodeID}, {string(AttrPipeline), pipeline}} {
		if kv[1] == "" {
			continue
		}
		m, err := baggage.NewMemberRaw(kv[0], kv[1])
		if err != nil {
			continue
		}
		if nb, err := b.SetMember(m); err == nil {
			b = nb
		}
	}
	return b
}

// BaggageValue returns the value of key in the baggage of ctx, or "".
func BaggageValue(ctx context.Context, key string) string {
	return baggage.FromContext(ctx).Member(key).Value()
}
