package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestReadyzFlips(t *testing.T) {
	var pipelineUp, kafkaUp atomic.Bool
	h := NewHealth(time.Second)
	h.AddCheck("pipelines", func(context.Context) error {
		if !pipelineUp.Load() {
			return errors.New(`pipeline "demo" is built`)
		}
		return nil
	})
	h.AddCheck("kafka", func(context.Context) error {
		if !kafkaUp.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	srv := httptest.NewServer(NewMux(nil, h))
	defer srv.Close()

	tests := []struct {
		name             string
		pipeline, kafka  bool
		wantCode         int
		wantFailedChecks []string
	}{
		{"nothing up", false, false, 503, []string{"pipelines", "kafka"}},
		{"pipeline up, kafka down", true, false, 503, []string{"kafka"}},
		{"both up", true, true, 200, nil},
		{"pipeline stopped", false, true, 503, []string{"pipelines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pipelineUp.Store(tt.pipeline)
			kafkaUp.Store(tt.kafka)
			code, body := get(t, srv.URL+"/readyz")
			if code != tt.wantCode {
				t.Errorf("/readyz: %d, want %d: %s", code, tt.wantCode, body)
			}
			var ans readyAnswer
			if err := json.Unmarshal([]byte(body), &ans); err != nil {
				t.Fatalf("/readyz body %q: %v", body, err)
			}
			var failed []string
			for _, c := range ans.Checks {
				if !c.OK {
					failed = append(failed, c.Name)
					if c.Error == "" {
						t.Errorf("check %s failed without an error", c.Name)
					}
				}
			}
			if len(failed) != len(tt.wantFailedChecks) || len(failed) > 0 && failed[0] != tt.wantFailedChecks[0] {
				t.Errorf("failed checks %v, want %v", failed, tt.wantFailedChecks)
			}
			if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
				t.Errorf("/healthz: %d %q, want 200 ok", code, body)
			}
		})
	}
	if code, _ := get(t, srv.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics without metrics: %d, want 404", code)
	}
}

func TestReadyTimesOutAndRecovers(t *testing.T) {
	h := NewHealth(50 * time.Millisecond)
	h.AddCheck("stuck", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	h.AddCheck("panics", func(context.Context) error { panic("bad check") })
	res, ok := h.Ready(context.Background())
	if ok || res[0].OK || res[1].OK || res[1].Error != "check panicked: bad check" {
		t.Errorf("Ready = %+v, %v; want both failed", res, ok)
	}
}

func TestCachedCheck(t *testing.T) {
	var calls atomic.Int32
	c := CachedCheck(time.Hour, func(context.Context) error { calls.Add(1); return errors.New("down") })
	for range 3 {
		if err := c(context.Background()); err == nil {
			t.Fatal("want the cached error")
		}
	}
	if calls.Load() != 1 {
		t.Errorf("check ran %d times within the ttl, want 1", calls.Load())
	}
	short := CachedCheck(time.Nanosecond, func(context.Context) error { calls.Add(1); return nil })
	_ = short(context.Background())
	time.Sleep(time.Millisecond)
	_ = short(context.Background())
	if calls.Load() != 3 {
		t.Errorf("check ran %d times in all, want 3 (expired entries run again)", calls.Load())
	}
	// A caller that gave up does not poison the cache.
	var slowCalls atomic.Int32
	slow := CachedCheck(time.Hour, func(ctx context.Context) error {
		if slowCalls.Add(1) == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := slow(ctx); err == nil {
		t.Fatal("want the timeout")
	}
	if err := slow(context.Background()); err != nil {
		t.Errorf("after a timed-out call: %v, want a fresh run", err)
	}
}
