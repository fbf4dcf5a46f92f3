package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/httpsrc"
)

// HTTPConfig configures the http-images source.
type HTTPConfig struct {
	Address         string        `yaml:"address" doc:"host:port to listen on; port 0 picks a free port." example:"0.0.0.0:8081"`
	Path            string        `yaml:"path" doc:"URL path accepting POSTed pictures." example:"/api/v1/images"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes" doc:"Largest accepted picture; larger ones get 413."`
	NodeHeader      string        `yaml:"node_header" doc:"Request header naming the node (camera) the picture comes from. Empty or absent: the edge node's id." example:"X-Device-Id"`
	Stream          string        `yaml:"stream" doc:"The edgeflow-stream of the messages."`
	RequestTimeout  time.Duration `yaml:"request_timeout" doc:"Longest time to read a request and wait for the pipeline's acknowledgement; then 503."`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" doc:"On shutdown, how long requests in flight may take to finish."`
}

func defaultHTTPConfig() *HTTPConfig {
	return &HTTPConfig{Address: "127.0.0.1:8081", Path: "/images", MaxBodyBytes: 16 << 20, NodeHeader: "X-Edgeflow-Node",
		Stream: "images", RequestTimeout: 30 * time.Second, ShutdownTimeout: 10 * time.Second}
}

// Validate checks the config and names the bad field.
func (c *HTTPConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return stages.FieldErrorf("address", "address %q: %w (want host:port)", c.Address, err)
	}
	if !strings.HasPrefix(c.Path, "/") {
		return stages.FieldErrorf("path", "path %q must start with /", c.Path)
	}
	if c.MaxBodyBytes < 1 {
		return stages.FieldErrorf("max_body_bytes", "max_body_bytes %d must be positive", c.MaxBodyBytes)
	}
	if c.Stream == "" {
		return stages.FieldErrorf("stream", "stream is empty: name the stream of the pictures")
	}
	if c.RequestTimeout <= 0 {
		return stages.FieldErrorf("request_timeout", "request_timeout %v must be positive", c.RequestTimeout)
	}
	if c.ShutdownTimeout < 0 {
		return stages.FieldErrorf("shutdown_timeout", "shutdown_timeout %v must not be negative", c.ShutdownTimeout)
	}
	return nil
}

// imageTypes are the accepted content types and the format each names.
var imageTypes = map[string]string{
	"image/jpeg": "jpeg", "image/png": "png", "image/bmp": "bmp", "image/x-ms-bmp": "bmp", "application/octet-stream": "",
}

// HTTPSource accepts pictures POSTed over HTTP.
type HTTPSource struct {
	*httpsrc.Server
	cfg  *HTTPConfig
	env  stages.Env
	node string
	log  *slog.Logger
}

func buildHTTP(_ context.Context, cfg *HTTPConfig, env stages.Env) (stages.Source, error) {
	log := env.Log().With("stage", "http-images")
	srv, err := httpsrc.Listen("http-images source", cfg.Address, cfg.ShutdownTimeout, log)
	if err != nil {
		return nil, err
	}
	return &HTTPSource{Server: srv, cfg: cfg, env: env, node: env.Node.ID, log: log}, nil
}

// Read serves requests until ctx ends, then shuts the server down gracefully.
func (s *HTTPSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	return s.Serve(ctx, s.cfg.Path, &imageHandler{src: s, emit: emit})
}

type imageHandler struct {
	src  *HTTPSource
	emit stages.EmitFunc
}

func (h *imageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := h.src.cfg
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpsrc.Reply(w, http.StatusMethodNotAllowed, "method %s not allowed: POST a picture", r.Method)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cfg.RequestTimeout)
	defer cancel()
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if _, ok := imageTypes[mediaType]; err != nil || !ok {
		httpsrc.Reply(w, http.StatusUnsupportedMediaType, "content type %q unsupported (want image/jpeg, image/png or image/bmp)", r.Header.Get("Content-Type"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpsrc.Reply(w, http.StatusRequestEntityTooLarge, "body over %d bytes (max_body_bytes)", cfg.MaxBodyBytes)
			return
		}
		httpsrc.Reply(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	format, err := CheckPicture(body)
	if err == nil {
		if want := imageTypes[mediaType]; want != "" && want != format {
			err = fmt.Errorf("content type %s, but the body is a %s picture", mediaType, format)
		}
	}
	if err != nil {
		httpsrc.RejectBody(ctx, h.src.env, h.src.log, "http-images source", w, r, body, err)
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = path.Base(r.URL.Path)
		if name == path.Base(cfg.Path) {
			name = ""
		}
	}
	msg := NewMessage(body, name, format)
	node := h.src.node
	if cfg.NodeHeader != "" && r.Header.Get(cfg.NodeHeader) != "" {
		node = r.Header.Get(cfg.NodeHeader)
	}
	msg.Metadata.Set(stages.MetaNode, node)
	msg.Metadata.Set(stages.MetaStream, cfg.Stream)
	err = h.emit(ctx, msg)
	switch {
	case err == nil:
		b, _ := json.Marshal(map[string]any{"accepted": 1, "message": msg.UUID})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(append(b, '\n'))
	case errors.Is(err, stages.ErrNacked):
		w.Header().Set("Retry-After", "1")
		httpsrc.Reply(w, http.StatusServiceUnavailable, "pipeline rejected the picture (message %s): %v", msg.UUID, err)
	default:
		w.Header().Set("Retry-After", "1")
		httpsrc.Reply(w, http.StatusServiceUnavailable, "picture not delivered: %v; retry later", err)
	}
}

var (
	_ stages.Source = (*HTTPSource)(nil)
	_ stages.Closer = (*HTTPSource)(nil)
)
