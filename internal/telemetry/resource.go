package telemetry

import (
	"context"
	"fmt"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Role says which tier a process belongs to; it picks the default service name.
type Role string

// Roles of edgeflow processes.
const (
	RoleEdge  Role = "edge"  // runs pipelines on a node (edgeflow run, the demo's nodes)
	RoleCloud Role = "cloud" // consumes topics (edgeflow tail, cloud consumers)
)

// Attribute keys edgeflow puts on resources, spans and metrics.
const (
	AttrNodeID   = attribute.Key("edgeflow.node.id")
	AttrPipeline = attribute.Key("edgeflow.pipeline")
	AttrRole     = attribute.Key("edgeflow.role")
)

// ServiceName is the service.name a process of role gets when neither the
// config nor OTEL_SERVICE_NAME names one.
func ServiceName(role Role) string { return "edgeflow-" + string(role) }

// Process describes the running process for its resource.
type Process struct {
	Role    Role
	NodeID  string // edge node id; empty for cloud processes that have none
	Version string // edgeflow's version
}

// NewResource builds the resource shared by traces and metrics. Later sources
// win: the role's default service name, then cfg (service_name, resource), then
// the environment (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME), as for every
// node setting; what p says (role, node id, version) is always set.
func NewResource(ctx context.Context, cfg Config, p Process) (*resource.Resource, error) {
	fromCfg := []attribute.KeyValue{semconv.ServiceName(ServiceName(p.Role))}
	keys := make([]string, 0, len(cfg.Resource))
	for k := range cfg.Resource {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fromCfg = append(fromCfg, attribute.String(k, cfg.Resource[k]))
	}
	if cfg.ServiceName != "" {
		fromCfg = append(fromCfg, semconv.ServiceName(cfg.ServiceName))
	}
	base, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithAttributes(fromCfg...),
		resource.WithFromEnv(),
	)
	if err != nil && base == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	fixed := []attribute.KeyValue{AttrRole.String(string(p.Role))}
	if p.NodeID != "" {
		fixed = append(fixed, AttrNodeID.String(p.NodeID))
	}
	if p.Version != "" {
		fixed = append(fixed, semconv.ServiceVersion(p.Version))
	}
	r, err := resource.Merge(base, resource.NewSchemaless(fixed...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return r, nil
}
