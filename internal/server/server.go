// Package server serves tagwatch's operational endpoints: /healthz (the
// process is alive) and /readyz (a cycle completed successfully recently).
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Health tracks the outcome of cycles for /readyz. Safe for concurrent use.
type Health struct {
	mu     sync.Mutex
	maxAge time.Duration
	lastOK time.Time
	last   string // outcome of the latest cycle, for the body
	now    func() time.Time
	// standby, when set, says why this replica runs no cycles (another
	// holds the Lease): it is ready all the same.
	standby string
}

// NewHealth reports ready while the latest successful cycle ended less than
// maxAge ago.
func NewHealth(maxAge time.Duration) *Health {
	return &Health{maxAge: maxAge, now: time.Now, last: "no cycle has completed yet"}
}

// SetMaxAge changes how recent the latest successful cycle must be (a
// reloaded config with another interval).
func (h *Health) SetMaxAge(maxAge time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.maxAge = maxAge
}

// Cycle records the end of a cycle; err is the cycle's own failure (nil when
// it completed, even if single targets failed).
func (h *Health) Cycle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.last = "latest cycle failed: " + err.Error()
		return
	}
	h.lastOK = h.now()
	h.last = "latest cycle completed"
}

// SetStandby marks a replica that runs no cycles, and why ("" when it
// runs them again): it reports ready, with the reason, so that a
// Deployment of several replicas rolls out.
func (h *Health) SetStandby(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.standby = why
}

// Ready reports readiness and a one-line reason.
func (h *Health) Ready() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.standby != "" {
		return true, "standby: " + h.standby
	}
	if h.lastOK.IsZero() {
		return false, h.last
	}
	age := h.now().Sub(h.lastOK)
	if age > h.maxAge {
		return false, fmt.Sprintf("%s; last success %s ago (limit %s)", h.last, age.Round(time.Second), h.maxAge)
	}
	return true, fmt.Sprintf("%s; last success %s ago", h.last, age.Round(time.Second))
}

// Handler serves /healthz and /readyz.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := h.Ready()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	return mux
}

// Server is a running HTTP server.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan error
}

// Listen starts serving h on addr (":8080", "127.0.0.1:0").
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	s := &Server{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr(),
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address served on.
func (s *Server) Addr() net.Addr { return s.addr }

// Shutdown stops the server, waiting for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return err
	}
	return <-s.done
}
