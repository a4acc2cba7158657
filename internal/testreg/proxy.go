package testreg

import (
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// FaultProxy is a reverse proxy on 127.0.0.1 in front of a running registry
// that misbehaves request by request, as its decide function says: what the
// network and the gateways between tagwatch and a real registry do (resets,
// truncated bodies, 5xx, 429). It serves plain HTTP whatever the upstream
// speaks, so clients reach it with Insecure set.
type FaultProxy struct {
	*Target // the proxy's address; credentials are the upstream's

	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	decide func(*http.Request) *Fault
	served []string // "METHOD /path?query", every request
	faults int      // requests answered with a fault
}

// StartFaultProxy starts a proxy to upstream until the test ends. decide is
// called for every request (one at a time) and returns the fault to inject,
// or nil to pass the request through; Fault's Method, Path, Times and After
// are not used here.
func StartFaultProxy(t testing.TB, upstream *Target, decide func(*http.Request) *Fault) *FaultProxy {
	t.Helper()
	u, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{decide: decide}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.Transport = upstream.transport
	p.rp.ErrorLog = discardLog()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	tg := &Target{User: upstream.User, Pass: upstream.Pass, URL: srv.URL, Host: srv.Listener.Addr().String(), dir: t.TempDir()}
	if tg.transport, err = newTransport(""); err != nil {
		t.Fatal(err)
	}
	p.Target = tg
	return p
}

// Requests returns every request the proxy received, as "METHOD /path?query".
func (p *FaultProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.served...)
}

// Faults is how many requests were answered with a fault.
func (p *FaultProxy) Faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.served = append(p.served, r.Method+" "+r.URL.RequestURI())
	f := p.decide(r)
	if f != nil {
		p.faults++
	}
	p.mu.Unlock()
	if f == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	if f.Reset && hijackClose(w) {
		return
	}
	if f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, f.Status, errorCode(f.Status), "injected fault")
		return
	}
	// Truncate: the headers promise the whole body; the connection ends
	// halfway.
	serveAltered(w, r, p.rp, f, true)
}

// serveAltered answers r with h's answer altered as f says: its Link
// header set, its header f.DropHeader removed, and with f.Truncate half
// of its body only: a well-framed short body, or with cut the whole
// body's Content-Length and the connection closed halfway.
func serveAltered(w http.ResponseWriter, r *http.Request, h http.Handler, f *Fault, cut bool) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	body := rec.Body.Bytes()
	if f.Link != "" {
		w.Header().Set("Link", f.Link)
	}
	if f.DropHeader != "" {
		w.Header().Del(f.DropHeader)
	}
	switch {
	case f.Truncate && cut:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		hijackClose(w)
		return
	case f.Truncate:
		body = body[:len(body)/2]
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// hijackClose closes the connection under w without an answer (or after
// what was written and flushed so far).
func hijackClose(w http.ResponseWriter) bool {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// RandomFaults returns a decide function for StartFaultProxy that answers
// a share rate (0..1) of requests, chosen by a generator seeded with seed,
// with one of: a 500, a 429 (Retry-After: 0), a 503, a reset connection or
// a body cut in half. The ping (GET /v2/) is spared, so that every fault
// lands on the requests under test.
func RandomFaults(seed uint64, rate float64) func(*http.Request) *Fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	kinds := []Fault{
		{Status: http.StatusInternalServerError},
		{Status: http.StatusTooManyRequests, RetryAfter: "0"},
		{Status: http.StatusServiceUnavailable},
		{Reset: true},
		{Truncate: true},
	}
	return func(r *http.Request) *Fault {
		if r.URL.Path == "/v2/" || r.URL.Path == "/v2" || rng.Float64() >= rate {
			return nil
		}
		f := kinds[rng.IntN(len(kinds))]
		return &f
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
