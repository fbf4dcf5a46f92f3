package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Check reports whether one thing a process needs is usable: nil when it is,
// otherwise an error saying what is wrong. Checks get a context bounded by
// Health's timeout and must respect it.
type Check func(ctx context.Context) error

// DefaultCheckTimeout bounds each readiness check of a /readyz request.
const DefaultCheckTimeout = 2 * time.Second

// Health answers /healthz and /readyz. The process is live as long as it
// answers at all; it is ready when every registered check passes.
type Health struct {
	timeout time.Duration

	mu     sync.RWMutex
	checks []namedCheck
}

type namedCheck struct {
	name  string
	check Check
}

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// NewHealth returns a Health with no checks (ready) whose checks each get at
// most timeout per request (DefaultCheckTimeout when zero or less).
func NewHealth(timeout time.Duration) *Health {
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	return &Health{timeout: timeout}
}

// AddCheck registers a readiness check under name (shown in /readyz answers).
// Checks run in the order added.
func (h *Health) AddCheck(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, namedCheck{name, c})
}

// Ready runs every check concurrently and returns their results in the order
// the checks were added, and whether all passed.
func (h *Health) Ready(ctx context.Context) ([]CheckResult, bool) {
	h.mu.RLock()
	checks := append([]namedCheck(nil), h.checks...)
	h.mu.RUnlock()
	results := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = CheckResult{Name: c.name, OK: true}
			if err := h.run(ctx, c.check); err != nil {
				results[i] = CheckResult{Name: c.name, Error: err.Error()}
			}
		}()
	}
	wg.Wait()
	ok := true
	for _, r := range results {
		ok = ok && r.OK
	}
	return results, ok
}

// run calls c with the timeout, turning a panic into an error.
func (h *Health) run(ctx context.Context, c Check) (err error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return c(ctx)
}

// readyAnswer is the JSON body of /readyz.
type readyAnswer struct {
	Status string        `json:"status"` // "ready" or "not ready"
	Checks []CheckResult `json:"checks"`
}

// LiveHandler answers /healthz: 200 "ok" while the process serves requests.
func (h *Health) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// ReadyHandler answers /readyz: 200 when every check passes, else 503; the
// JSON body lists every check with its error, e.g.
//
//	{"status":"not ready","checks":[{"name":"kafka","ok":false,"error":"..."}]}
func (h *Health) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		results, ok := h.Ready(r.Context())
		ans := readyAnswer{Status: "ready", Checks: results}
		code := http.StatusOK
		if !ok {
			ans.Status, code = "not ready", http.StatusServiceUnavailable
		}
		if ans.Checks == nil {
			ans.Checks = []CheckResult{}
		}
		body, err := json.Marshal(ans)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_, _ = w.Write(append(body, '\n'))
	})
}

// CachedCheck wraps c so that it runs at most once per ttl: callers within ttl
// of the last run get its result. Concurrent callers share one run. Use it for
// checks that cost a round trip (the Kafka check), so that frequent probes do
// not load the broker.
func CachedCheck(ttl time.Duration, c Check) Check {
	cc := &cachedCheck{ttl: ttl, check: c}
	return cc.run
}

type cachedCheck struct {
	ttl   time.Duration
	check Check

	mu   sync.Mutex
	at   time.Time
	err  error
	done bool
}

func (c *cachedCheck) run(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done && time.Since(c.at) < c.ttl {
		return c.err
	}
	err := c.check(ctx)
	if ctx.Err() != nil && err != nil {
		return err // the caller gave up: do not cache its timeout
	}
	c.at, c.err, c.done = time.Now(), err, true
	return err
}
