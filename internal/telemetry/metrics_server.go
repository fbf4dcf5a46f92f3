package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// EndpointShutdownTimeout bounds how long an EndpointServer waits for requests in
// progress when it stops.
const EndpointShutdownTimeout = 5 * time.Second

// EndpointServer serves /metrics, /healthz and /readyz on one address.
type EndpointServer struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// NewMux routes /metrics to m (404 when m is nil), /healthz and /readyz to h.
func NewMux(m *Metrics, h *Health) *http.ServeMux {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	mux.Handle("GET /healthz", h.LiveHandler())
	mux.Handle("GET /readyz", h.ReadyHandler())
	return mux
}

// ListenEndpoints binds addr (host:port; port 0 picks a free one) for the
// endpoints of m and h. Nothing is served until Serve.
func ListenEndpoints(ctx context.Context, addr string, m *Metrics, h *Health, log *slog.Logger) (*EndpointServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics endpoint %q: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           NewMux(m, h),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &EndpointServer{ln: ln, srv: srv, log: log}, nil
}

// Addr is the address the server listens on, with the port chosen.
func (s *EndpointServer) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until ctx ends, then shuts down gracefully: it stops
// accepting connections and waits up to EndpointShutdownTimeout for requests in
// progress. It returns nil after a clean shutdown.
func (s *EndpointServer) Serve(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.ln) }()
	s.log.Info("serving metrics and health", "addr", "http://"+s.Addr(), "paths", "/metrics /healthz /readyz")
	select {
	case err := <-done:
		return fmt.Errorf("telemetry: metrics endpoint %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), EndpointShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("telemetry: metrics endpoint %s: shutdown: %w", s.Addr(), err)
	}
	return nil
}

// Close releases the address of a server that will not Serve.
func (s *EndpointServer) Close() error {
	err := s.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
