package httpsrc

import (
	"context"
	"encoding/json"
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

// Reply writes a JSON status; for errors (status >= 300) the message is the
// body, as {"error": "..."}.
func Reply(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status >= 300 {
		b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, args...)})
		w.Write(append(b, '\n'))
	}
}

// RejectBody answers a request whose body holds nothing usable. The body goes
// to the pipeline's dead-letter route first, with "http REMOTE PATH" as its
// source and its Content-Type kept: 400 once the route took it, 503 with
// Retry-After when it did not (the client should send it again; nothing is
// lost). source names the HTTP source in the log ("http source").
func RejectBody(ctx context.Context, env stages.Env, log *slog.Logger, source string, w http.ResponseWriter, r *http.Request, body []byte, reason error) {
	msg := stages.NewDeadLetter(body, "http "+r.RemoteAddr+" "+r.URL.Path)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		msg.Metadata.Set("content-type", ct)
	}
	if err := env.DeadLetter(ctx, msg, reason); err != nil {
		log.Warn(source+": dead letter not written", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Retry-After", "1")
		Reply(w, http.StatusServiceUnavailable, "%v; and the dead-letter sink failed: retry later", reason)
		return
	}
	Reply(w, http.StatusBadRequest, "%v; nothing accepted", reason)
}
