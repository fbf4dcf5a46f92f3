package httpsrc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/edgeflow/edgeflow/stages"
)

// Server is the listening half shared by HTTP sources: it takes its port at
// build time (so a taken address fails the build, naming the address field),
// serves one handler on one path while Read runs, shuts down gracefully when
// Read's context ends, and closes idempotently.
type Server struct {
	name            string // "http source", for messages
	log             *slog.Logger
	ln              net.Listener
	shutdownTimeout time.Duration

	mu     sync.Mutex
	srv    *http.Server
	closed bool
}

// Listen opens address for a source called name.
func Listen(name, address string, shutdownTimeout time.Duration, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, stages.FieldErrorf("address", "%w", err)
	}
	return &Server{name: name, log: log, ln: ln, shutdownTimeout: shutdownTimeout}, nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves h on path until ctx ends, then shuts the server down, letting
// requests in flight finish for up to the shutdown timeout.
func (s *Server) Serve(ctx context.Context, path string, h http.Handler) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(path, h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("%s: read after close", s.name)
	}
	s.srv = srv
	s.mu.Unlock()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.ln) }()
	s.log.Info(s.name+": listening", "address", s.ln.Addr().String(), "path", path)
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Warn(s.name+": requests still in flight at shutdown timeout", "err", err)
			srv.Close()
		}
		<-served
		return ctx.Err()
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s: %w", s.name, err)
	}
}

// Close stops the server (or the unused listener). It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.srv != nil {
		return s.srv.Close()
	}
	return s.ln.Close()
}
