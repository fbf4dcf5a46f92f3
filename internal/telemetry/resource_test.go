package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func TestNewResourcePrecedence(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		env     map[string]string
		service string
	}{
		{"role default", Config{}, nil, "edgeflow-edge"},
		{"config", Config{ServiceName: "plant-7"}, nil, "plant-7"},
		{"env over config", Config{ServiceName: "plant-7"}, map[string]string{"OTEL_SERVICE_NAME": "from-env"}, "from-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r, err := NewResource(context.Background(), tt.cfg, Process{Role: RoleEdge, NodeID: "n1", Version: "v0"})
			if err != nil {
				t.Fatal(err)
			}
			got := map[attribute.Key]string{}
			for _, kv := range r.Attributes() {
				got[kv.Key] = kv.Value.Emit()
			}
			if got["service.name"] != tt.service {
				t.Errorf("service.name = %q, want %q", got["service.name"], tt.service)
			}
			if got[AttrNodeID] != "n1" || got[AttrRole] != "edge" || got["service.version"] != "v0" {
				t.Errorf("fixed attributes missing: %v", got)
			}
		})
	}
}
