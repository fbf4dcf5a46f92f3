package httpsrc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// deadLetters records what a source handed to its dead-letter route and
// answers with err.
type deadLetters struct {
	mu   sync.Mutex
	msgs []*message.Message
	why  []error
	err  error
}

func (d *deadLetters) take(_ context.Context, msg *message.Message, reason error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.msgs = append(d.msgs, msg)
	d.why = append(d.why, reason)
	return nil
}

// testHandler is the source's handler with dead letters going to dl and
// accepted readings to emit.
func testHandler(dl *deadLetters, emit stages.EmitFunc) *handler {
	env := stages.Env{Node: stages.Node{ID: "edge-1"}, Logger: slog.New(slog.DiscardHandler), DeadLetters: dl.take}
	return &handler{src: &Source{cfg: defaultConfig(), node: "edge-1", log: env.Log(), env: env}, emit: emit}
}

func postTo(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/readings", bytes.NewReader(body))
	req.RemoteAddr = "10.0.0.7:51234"
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestBadBodyDeadLetters(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		dlErr      error
		wantStatus int
		wantDead   int
	}{
		{name: "not JSON", body: `{"stream":`, wantStatus: http.StatusBadRequest, wantDead: 1},
		{name: "no readings", body: `[]`, wantStatus: http.StatusBadRequest, wantDead: 1},
		{name: "bad value", body: `{"stream":"t","ts":"2026-01-02T03:04:05Z","value":"x"}`, wantStatus: http.StatusBadRequest, wantDead: 1},
		{name: "dead-letter sink down", body: `{"stream":`, dlErr: errors.New("kafka down"), wantStatus: http.StatusServiceUnavailable},
		{name: "good body", body: `{"stream":"t","ts":"2026-01-02T03:04:05Z","value":1}`, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := &deadLetters{err: tt.dlErr}
			h := testHandler(dl, func(context.Context, *message.Message) error { return nil })
			w := postTo(h, "application/json", []byte(tt.body))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if len(dl.msgs) != tt.wantDead {
				t.Fatalf("%d dead letters, want %d", len(dl.msgs), tt.wantDead)
			}
			if tt.wantStatus == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if tt.wantDead == 1 {
				m := dl.msgs[0]
				if string(m.Payload) != tt.body || m.Metadata.Get(stages.MetaSource) != "http 10.0.0.7:51234 /readings" ||
					m.Metadata.Get("content-type") != "application/json" {
					t.Errorf("dead letter %q with metadata %v", m.Payload, m.Metadata)
				}
				var reply struct{ Error string }
				if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil || !strings.Contains(reply.Error, dl.why[0].Error()) {
					t.Errorf("reply %s does not give the reason %v", w.Body, dl.why[0])
				}
			}
		})
	}
}

// FuzzHandlerDeadLetters posts arbitrary bodies as JSON and as NDJSON: every
// request is either accepted whole (200, every reading has a stream) or
// refused with 400 after its body went to the dead-letter route unchanged;
// nothing panics and nothing is lost.
func FuzzHandlerDeadLetters(f *testing.F) {
	for _, seed := range []string{
		`{"stream":"t","ts":"2026-01-02T03:04:05Z","value":21.5}`,
		"{\"stream\":\"t\",\"ts\":1767322800,\"value\":1}\n{\"stream\":\"t\",\"ts\":1767322801,\"value\":\"NaN\"}\n",
		`[{"stream":"t","ts":"2026-01-02T03:04:05Z","value":1},{"ts":"2026-01-02T03:04:05Z","value":2}]`,
		`{"stream":"env","ts":"2026-01-02T03:04:05Z","values":{"h":1,"t":"x"}}`,
		`[`, ``, "\n", `null`, `{"stream":"t","ts":"2026-13-02T03:04:05Z","value":1}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		dl := &deadLetters{}
		var accepted []reading.Reading
		h := testHandler(dl, func(_ context.Context, msg *message.Message) error {
			rs, err := reading.DecodePayload(msg.Payload, nil)
			if err != nil {
				t.Fatalf("emitted a payload that does not decode: %v", err)
			}
			accepted = append(accepted, rs...)
			return nil
		})
		w := postTo(h, ct, body)
		switch w.Code {
		case http.StatusOK:
			if len(accepted) == 0 || len(dl.msgs) != 0 {
				t.Fatalf("200 with %d readings accepted and %d dead letters", len(accepted), len(dl.msgs))
			}
			for _, r := range accepted {
				if r.Stream == "" {
					t.Fatalf("accepted a reading without a stream from %q", body)
				}
			}
		case http.StatusBadRequest:
			if len(accepted) != 0 || len(dl.msgs) != 1 || !bytes.Equal(dl.msgs[0].Payload, body) {
				t.Fatalf("400 with %d readings accepted and %d dead letters", len(accepted), len(dl.msgs))
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
