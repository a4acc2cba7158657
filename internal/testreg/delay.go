package testreg

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// DelayProxy is a reverse proxy that answers every request Latency late,
// as a registry across a network does (a round trip, TLS and the
// registry's own work), and counts the requests by kind and the most it
// served at once. Put it in front of the in-process registry to measure
// what round trips cost; it serves plain HTTP whatever the upstream speaks.
type DelayProxy struct {
	rp      *httputil.ReverseProxy
	latency time.Duration

	mu       sync.Mutex
	counts   Counts
	inFlight int
	peak     int
}

// Counts are requests by kind, as a registry sees them.
type Counts struct {
	List     int // GET …/tags/list
	Head     int // HEAD …/manifests/…
	Manifest int // GET …/manifests/…
	Blob     int // GET or HEAD …/blobs/…
	Put      int // PUT, POST, PATCH
	Other    int // the ping (/v2/), tokens
}

// Total is the number of requests of every kind.
func (c Counts) Total() int { return c.List + c.Head + c.Manifest + c.Blob + c.Put + c.Other }

func (c Counts) String() string {
	return fmt.Sprintf("%d (list %d, HEAD %d, manifest GET %d, blob GET %d, put %d, ping/token %d)",
		c.Total(), c.List, c.Head, c.Manifest, c.Blob, c.Put, c.Other)
}

// Sub is c minus an earlier snapshot.
func (c Counts) Sub(d Counts) Counts {
	return Counts{c.List - d.List, c.Head - d.Head, c.Manifest - d.Manifest, c.Blob - d.Blob, c.Put - d.Put, c.Other - d.Other}
}

// NewDelayProxy returns a proxy to upstream ("http://127.0.0.1:PORT")
// through rt (nil: http.DefaultTransport) that delays every answer by
// latency. Programs serve it themselves; tests use StartDelayProxy.
func NewDelayProxy(upstream string, latency time.Duration, rt http.RoundTripper) (*DelayProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	p := &DelayProxy{rp: httputil.NewSingleHostReverseProxy(u), latency: latency}
	if rt != nil {
		p.rp.Transport = rt
	}
	p.rp.ErrorLog = discardLog()
	return p, nil
}

// StartDelayProxy starts a DelayProxy to upstream on 127.0.0.1 until the
// test ends and returns its address and the proxy.
func StartDelayProxy(t testing.TB, upstream *Target, latency time.Duration) (*Target, *DelayProxy) {
	t.Helper()
	p, err := NewDelayProxy(upstream.URL, latency, upstream.transport)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	tg := &Target{User: upstream.User, Pass: upstream.Pass, URL: srv.URL, Host: srv.Listener.Addr().String(), dir: t.TempDir()}
	if tg.transport, err = newTransport(""); err != nil {
		t.Fatal(err)
	}
	return tg, p
}

// Counts returns the requests served so far, by kind.
func (p *DelayProxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Peak is the most requests the proxy served at once so far.
func (p *DelayProxy) Peak() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

func (p *DelayProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.count(r)
	p.inFlight++
	p.peak = max(p.peak, p.inFlight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if p.latency > 0 {
		select {
		case <-time.After(p.latency):
		case <-r.Context().Done():
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

func (p *DelayProxy) count(r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(path, "/tags/list"):
		p.counts.List++
	case r.Method == http.MethodHead && strings.Contains(path, "/manifests/"):
		p.counts.Head++
	case r.Method == http.MethodGet && strings.Contains(path, "/manifests/"):
		p.counts.Manifest++
	case strings.Contains(path, "/blobs/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		p.counts.Blob++
	case r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch:
		p.counts.Put++
	default:
		p.counts.Other++
	}
}
