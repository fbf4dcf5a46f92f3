package httpsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "http",
		Summary: "Accepts readings POSTed over HTTP; answers once the pipeline acknowledged them.",
		Description: `Listens on address and accepts POST requests on path. The body is either
application/json (one reading object or an array of them) or application/x-ndjson (JSON lines,
one reading object per line); multi-value objects ("values") expand as in the reading format.
Readings without a node take the value of the node_header request header, else the edge node's id.

Each request is all-or-nothing: its readings become one message, and nothing from a body with
any bad reading is accepted. Answers, as JSON ({"accepted":N} or {"error":"..."}):
200 once the pipeline acknowledged the message; 400 for a bad body, naming the line or array
element and the field; 413 for a body over max_body_bytes; 415 for other content types;
405 for other methods; 503 (with Retry-After) when the pipeline rejected the message or is
shutting down, so the client should retry. On shutdown the listener stops taking requests and
requests in flight are finished.`,
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "Local collector on the default port", YAML: `type: http`},
			{Title: "Reachable on the site network, larger bodies", YAML: `type: http
address: 0.0.0.0:8080
path: /api/v1/readings
max_body_bytes: 4194304
node_header: X-Device-Id`},
		},
	}, defaultConfig, build)
}

// Config configures the http source.
type Config struct {
	Address         string        `yaml:"address" doc:"host:port to listen on; port 0 picks a free port." example:"0.0.0.0:8080"`
	Path            string        `yaml:"path" doc:"URL path accepting POSTed readings." example:"/api/v1/readings"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes" doc:"Largest accepted request body; larger ones get 413."`
	NodeHeader      string        `yaml:"node_header" doc:"Request header naming the node of readings that name none. Empty: always the edge node's id." example:"X-Device-Id"`
	RequestTimeout  time.Duration `yaml:"request_timeout" doc:"Longest time to read a request and wait for the pipeline's acknowledgement; then 503."`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" doc:"On shutdown, how long requests in flight may take to finish."`
}

func defaultConfig() *Config {
	return &Config{Address: "127.0.0.1:8080", Path: "/readings", MaxBodyBytes: 1 << 20,
		NodeHeader: "X-Edgeflow-Node", RequestTimeout: 30 * time.Second, ShutdownTimeout: 10 * time.Second}
}

// Validate checks the config and names the bad field.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return stages.FieldErrorf("address", "address %q: %w (want host:port)", c.Address, err)
	}
	if !strings.HasPrefix(c.Path, "/") {
		return stages.FieldErrorf("path", "path %q must start with /", c.Path)
	}
	if c.MaxBodyBytes < 1 {
		return stages.FieldErrorf("max_body_bytes", "max_body_bytes %d must be positive", c.MaxBodyBytes)
	}
	if c.RequestTimeout <= 0 {
		return stages.FieldErrorf("request_timeout", "request_timeout %v must be positive", c.RequestTimeout)
	}
	if c.ShutdownTimeout < 0 {
		return stages.FieldErrorf("shutdown_timeout", "shutdown_timeout %v must not be negative", c.ShutdownTimeout)
	}
	return nil
}

// Source is the http source.
type Source struct {
	*Server
	cfg  *Config
	node string
	log  *slog.Logger
	env  stages.Env // for dead letters
}

func build(_ context.Context, cfg *Config, env stages.Env) (stages.Source, error) {
	srv, err := Listen("http source", cfg.Address, cfg.ShutdownTimeout, env.Log())
	if err != nil {
		return nil, err
	}
	return &Source{Server: srv, cfg: cfg, node: env.Node.ID, log: env.Log(), env: env}, nil
}

// Read serves requests until ctx ends, then shuts the server down gracefully.
func (s *Source) Read(ctx context.Context, emit stages.EmitFunc) error {
	return s.Serve(ctx, s.cfg.Path, &handler{src: s, emit: emit})
}

type handler struct {
	src  *Source
	emit stages.EmitFunc
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := h.src.cfg
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		Reply(w, http.StatusMethodNotAllowed, "method %s not allowed: POST readings", r.Method)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cfg.RequestTimeout)
	defer cancel()
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ndjson := false
	switch {
	case err != nil && r.Header.Get("Content-Type") != "":
		Reply(w, http.StatusUnsupportedMediaType, "content type %q: %v", r.Header.Get("Content-Type"), err)
		return
	case mediaType == "application/json":
	case mediaType == "application/x-ndjson" || mediaType == "application/jsonl" || mediaType == "application/jsonlines":
		ndjson = true
	default:
		Reply(w, http.StatusUnsupportedMediaType, "content type %q unsupported (want application/json or application/x-ndjson)", mediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			Reply(w, http.StatusRequestEntityTooLarge, "body over %d bytes (max_body_bytes)", cfg.MaxBodyBytes)
			return
		}
		Reply(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	opts := reading.JSONOptions{Node: h.src.node}
	if cfg.NodeHeader != "" {
		if node := r.Header.Get(cfg.NodeHeader); node != "" {
			opts.Node = node
		}
	}
	rs, err := parseBody(body, ndjson, opts)
	if err == nil && len(rs) == 0 {
		err = errors.New("no readings in the body")
	}
	if err != nil {
		RejectBody(ctx, h.src.env, h.src.log, "http source", w, r, body, err)
		return
	}
	err = h.emit(ctx, reading.NewMessage(rs))
	switch {
	case err == nil:
		Reply(w, http.StatusOK, "")
		fmt.Fprintf(w, `{"accepted":%d}`+"\n", len(rs))
	case errors.Is(err, stages.ErrNacked):
		w.Header().Set("Retry-After", "1")
		Reply(w, http.StatusServiceUnavailable, "pipeline rejected the readings; retry later")
	default:
		h.src.log.Warn("http source: readings not delivered", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Retry-After", "1")
		Reply(w, http.StatusServiceUnavailable, "readings not delivered: %v; retry later", err)
	}
}

func parseBody(body []byte, ndjson bool, opts reading.JSONOptions) ([]reading.Reading, error) {
	if !ndjson {
		return reading.ParseJSON(body, nil, opts)
	}
	r := reading.NewJSONLReader(bytes.NewReader(body), opts)
	r.SetMaxLineBytes(len(body) + 1)
	var rs []reading.Reading
	for {
		var err error
		rs, err = r.Next(rs)
		switch {
		case err == io.EOF:
			return rs, nil
		case err != nil:
			return nil, err
		}
	}
}

var (
	_ stages.Source = (*Source)(nil)
	_ stages.Closer = (*Source)(nil)
)
