package telemetry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEndpointServerServesAndShutsDown(t *testing.T) {
	ctx := context.Background()
	res, err := NewResource(ctx, Config{}, Process{Role: RoleCloud, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(res)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(ctx)
	ctr, err := m.MeterProvider().Meter("test").Int64Counter("edgeflow.test.things")
	if err != nil {
		t.Fatal(err)
	}
	ctr.Add(ctx, 3)
	reg, err := ObserveSpoolDepth(m.MeterProvider(), "gw-1", "kafka", func() int64 { return 42 })
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	srv, err := ListenEndpoints(ctx, "127.0.0.1:0", m, NewHealth(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(runCtx) }()
	base := "http://" + srv.Addr()
	code, body := get(t, base+"/metrics")
	for _, want := range []string{"edgeflow_test_things_total 3", `edgeflow_spool_depth{node="gw-1",spool="kafka"} 42`, "process_resident_memory_bytes ", "go_memstats_heap_alloc_bytes ",
		`target_info{`, `service_name="edgeflow-cloud"`, `service_version="v1.2.3"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code != 200 || t.Failed() {
		t.Logf("/metrics %d:\n%s", code, body)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz with no checks: %d, want 200", code)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(EndpointShutdownTimeout + time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestListenEndpointsBadAddress(t *testing.T) {
	if _, err := ListenEndpoints(context.Background(), "127.0.0.1:99999", nil, NewHealth(0), nil); err == nil ||
		!strings.Contains(err.Error(), "127.0.0.1:99999") {
		t.Errorf("error %v, want one naming the address", err)
	}
}

func TestResolveMetricsAddr(t *testing.T) {
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == EnvMetricsAddr && v != "" {
				return v, true
			}
			return "", false
		}
	}
	tests := []struct {
		name, file, env, flag string
		want                  string
		wantErr               string
	}{
		{name: "off by default"},
		{name: "node file", file: ":9464", want: ":9464"},
		{name: "env over file", file: ":9464", env: "127.0.0.1:9000", want: "127.0.0.1:9000"},
		{name: "flag over env", file: ":9464", env: "127.0.0.1:9000", flag: "0.0.0.0:9100", want: "0.0.0.0:9100"},
		{name: "off turns a lower layer off", file: ":9464", flag: "off"},
		{name: "bad env named", env: "9464", wantErr: EnvMetricsAddr},
		{name: "bad flag named", flag: "localhost", wantErr: "--metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveMetricsAddr(MetricsConfig{Listen: tt.file}, env(tt.env), tt.flag)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one naming %s", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
