package httpsrc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestConformance(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "http", stagetest.Features{ValidConfig: "address: 127.0.0.1:0"})
}

// server runs the source on a free port with emit; it returns the URL.
func server(t *testing.T, cfg *Config, emit stages.EmitFunc) string {
	t.Helper()
	cfg.Address = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	src, err := build(context.Background(), cfg, stages.Env{Node: stages.Node{ID: "edge-1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Read(ctx, emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Read returned %v", err)
		}
		src.(*Source).Close()
	})
	return "http://" + src.(*Source).Addr().String()
}

// recorder is an emit that keeps the readings and answers with result.
type recorder struct {
	mu     sync.Mutex
	got    [][]reading.Reading
	result error
}

func (r *recorder) emit(ctx context.Context, msg *message.Message) error {
	rs, err := reading.DecodePayload(msg.Payload, nil)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rs)
	return r.result
}

func post(t *testing.T, method, url, contentType, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRequests(t *testing.T) {
	one := `{"stream":"temp","ts":1767366245,"value":21.5}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      []string
		result      error
		wantStatus  int
		wantBody    string
		wantNodes   []string // nodes of the emitted readings; nil: nothing emitted
	}{
		{name: "one reading", contentType: "application/json", body: one,
			wantStatus: 200, wantBody: `{"accepted":1}`, wantNodes: []string{"edge-1"}},
		{name: "array with charset", contentType: "application/json; charset=utf-8",
			body:       `[` + one + `,{"node":"m2","stream":"env","ts":1,"values":{"a":1,"b":2}}]`,
			wantStatus: 200, wantBody: `{"accepted":3}`, wantNodes: []string{"edge-1", "m2", "m2"}},
		{name: "ndjson with node header", contentType: "application/x-ndjson", body: one + "\n\n" + one + "\n",
			header: []string{"X-Edgeflow-Node", "dev-7"}, wantStatus: 200, wantBody: `{"accepted":2}`, wantNodes: []string{"dev-7", "dev-7"}},
		{name: "bad ndjson line", contentType: "application/x-ndjson", body: one + "\n" + `{"stream":"temp","ts":1,"value":"warm"}`,
			wantStatus: 400, wantBody: `line 2: field \"value\"`},
		{name: "bad array element", contentType: "application/json", body: `[` + one + `,{"stream":"x","value":1}]`,
			wantStatus: 400, wantBody: `element 1: field \"ts\" is missing`},
		{name: "empty array", contentType: "application/json", body: `[]`, wantStatus: 400, wantBody: "no readings"},
		{name: "too large", contentType: "application/json", body: `[` + strings.Repeat(one+",", 100) + one + `]`,
			wantStatus: 413, wantBody: "max_body_bytes"},
		{name: "wrong content type", contentType: "text/plain", body: one, wantStatus: 415},
		{name: "no content type", body: one, wantStatus: 415},
		{name: "GET", method: "GET", wantStatus: 405},
		{name: "other path", path: "/other", contentType: "application/json", body: one, wantStatus: 404},
		{name: "nacked", contentType: "application/json", body: one, result: fmt.Errorf("x: %w", stages.ErrNacked),
			wantStatus: 503, wantBody: "retry later", wantNodes: []string{"edge-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{result: tt.result}
			cfg := defaultConfig()
			cfg.MaxBodyBytes = 2000
			url := server(t, cfg, rec.emit)
			method := tt.method
			if method == "" {
				method = "POST"
			}
			path := tt.path
			if path == "" {
				path = "/readings"
			}
			status, body := post(t, method, url+path, tt.contentType, tt.body, tt.header...)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", status, body, tt.wantStatus, tt.wantBody)
			}
			var nodes []string
			for _, rs := range rec.got {
				for _, r := range rs {
					nodes = append(nodes, r.Node)
				}
			}
			if fmt.Sprint(nodes) != fmt.Sprint(tt.wantNodes) || len(rec.got) > 1 {
				t.Fatalf("emitted %v (in %d messages), want nodes %v in one message", nodes, len(rec.got), tt.wantNodes)
			}
		})
	}
}

func TestAnswersOnlyAfterAck(t *testing.T) {
	release := make(chan struct{})
	url := server(t, defaultConfig(), func(ctx context.Context, msg *message.Message) error {
		<-release
		return nil
	})
	answered := make(chan int, 1)
	go func() {
		status, _ := post(t, "POST", url+"/readings", "application/json", `{"stream":"s","ts":1,"value":1}`)
		answered <- status
	}()
	select {
	case status := <-answered:
		t.Fatalf("answered %d before the pipeline acknowledged", status)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if status := <-answered; status != 200 {
		t.Fatalf("status %d", status)
	}
}

func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	cfg := defaultConfig()
	cfg.Address = "127.0.0.1:0"
	src, err := build(context.Background(), cfg, stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.(*Source).Close()
	url := "http://" + src.(*Source).Addr().String() + "/readings"
	inEmit := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
			close(inEmit)
			time.Sleep(200 * time.Millisecond)
			return nil
		})
	}()
	answered := make(chan int, 1)
	go func() {
		status, _ := post(t, "POST", url, "application/json", `{"stream":"s","ts":1,"value":1}`)
		answered <- status
	}()
	<-inEmit
	cancel()
	if status := <-answered; status != 200 {
		t.Fatalf("request in flight got %d", status)
	}
	if err := <-done; err != context.Canceled {
		t.Fatalf("Read returned %v", err)
	}
	if _, err := http.Post(url, "application/json", strings.NewReader("{}")); err == nil {
		t.Fatal("still accepting requests after shutdown")
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		mutate func(*Config)
		field  string
	}{
		{func(c *Config) { c.Address = "8080" }, "address"},
		{func(c *Config) { c.Path = "readings" }, "path"},
		{func(c *Config) { c.MaxBodyBytes = 0 }, "max_body_bytes"},
		{func(c *Config) { c.RequestTimeout = 0 }, "request_timeout"},
	} {
		cfg := defaultConfig()
		tt.mutate(cfg)
		if got := stages.FieldOf(cfg.Validate()); got != tt.field {
			t.Errorf("error names %q, want %q", got, tt.field)
		}
	}
}
