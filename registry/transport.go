package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/time/rate"
)

// retryStatusCodes are the statuses ggcr's retry transport retries for us.
// 500 is not among them: it is usually a bug, and retrying a bug is not polite.
var retryStatusCodes = []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// retryable is the predicate given to ggcr's retry transport: the statuses
// above and connection resets; never a 401/403/404, never our own deadline.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return slices.Contains(retryStatusCodes, terr.StatusCode)
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// counters are Stats, counted atomically at the bottom of the stack: every
// request that goes on the wire, retries included.
type counters struct {
	list, head, manifest, blob, put, other atomic.Int64
}

func (s *counters) snapshot() Stats {
	return Stats{
		List: int(s.list.Load()), Head: int(s.head.Load()), Manifest: int(s.manifest.Load()),
		Blob: int(s.blob.Load()), Put: int(s.put.Load()), Other: int(s.other.Load()),
	}
}

type countTransport struct {
	stats    *counters
	observer Observer // nil: none
	next     http.RoundTripper
}

func (t *countTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := requestKind(req)
	switch kind {
	case "list":
		t.stats.list.Add(1)
	case "head":
		t.stats.head.Add(1)
	case "manifest":
		t.stats.manifest.Add(1)
	case "blob":
		t.stats.blob.Add(1)
	case "put":
		t.stats.put.Add(1)
	default:
		t.stats.other.Add(1)
	}
	resp, err := t.next.RoundTrip(req)
	if t.observer != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.observer.Request(req.URL.Host, kind, code)
	}
	return resp, err
}

// timeoutTransport bounds each request, reading its body included, and
// caps the body: a registry cannot make us read more than maxBody bytes.
type timeoutTransport struct {
	d       time.Duration
	maxBody int64
	next    http.RoundTripper
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.ContentLength > t.maxBody {
		resp.Body.Close()
		cancel()
		return nil, bodyTooLarge(req, t.maxBody)
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, cancel: cancel, max: t.maxBody, req: req}
	return resp, nil
}

// cappedBody ends the request's timeout on Close and fails a read past max.
type cappedBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	max, n int64
	req    *http.Request
}

func (b *cappedBody) Read(p []byte) (int, error) {
	// Up to one byte past max: that byte tells a body of exactly max bytes
	// from a longer one.
	if room := b.max - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if over := b.n - b.max; over > 0 {
		return n - int(over), bodyTooLarge(b.req, b.max)
	}
	return n, err
}

func (b *cappedBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func bodyTooLarge(req *http.Request, limit int64) error {
	return fmt.Errorf("%w: the answer to %s %s is larger than %d bytes", ErrBodyTooLarge, req.Method, redactURL(req.URL), limit)
}

// redactURL is u without credentials or query (a `last=` can be long).
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.Path
}

// gate is the politeness state of one registry host: a token bucket, and the
// time before which a Retry-After asked us not to come back. With
// WithCacheDir that time outlives the process (see diskCache.hold), so that
// `run --once` from a CronJob every minute does not call a registry that
// asked for ten.
type gate struct {
	lim       *rate.Limiter
	flow      *flow // requests in flight
	mu        sync.Mutex
	notBefore time.Time
}

func (c *Client) gate(host string) *gate {
	c.gatesMu.Lock()
	defer c.gatesMu.Unlock()
	if g, ok := c.gates[host]; ok {
		return g
	}
	r, burst := hostRate(match(c.o.hosts, host))
	g := &gate{lim: rate.NewLimiter(rate.Limit(r), burst), flow: newFlow()}
	if c.cache != nil {
		g.notBefore, _ = c.cache.hold(host)
	}
	c.gates[host] = g
	return g
}

// hostRate is the token bucket of h: its RateLimit per second in bursts
// of as many, or, when it sets none, DefaultRateLimit in bursts of
// DefaultBurst.
func hostRate(h Host) (float64, int) {
	if h.RateLimit == 0 {
		return DefaultRateLimit, DefaultBurst
	}
	return h.RateLimit, max(1, int(h.RateLimit))
}

// maxHold bounds how long a Retry-After can hold a host back: longer
// values are taken as this long.
const maxHold = 24 * time.Hour

// politeTransport waits for any Retry-After, a slot of the host's flow
// (requests in flight) and its token bucket before each request, records
// Retry-After from 429 and 503 responses, and tells the flow how the
// request went. It sits below ggcr's retry transport, so retries wait too.
// A Retry-After longer than WithMaxRetryAfter is not waited for: until it
// passes, requests to that host fail at once with ErrRateLimited (and are
// not retried).
type politeTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := t.c.gate(req.URL.Host)
	ctx := req.Context()
	g.mu.Lock()
	notBefore := g.notBefore
	g.mu.Unlock()
	if wait := time.Until(notBefore); wait > t.c.o.maxRetryAfter {
		return nil, fmt.Errorf("%w: %s asked not to be called before %s (Retry-After)", ErrRateLimited, req.URL.Host, notBefore.UTC().Format(time.RFC3339))
	} else if wait > 0 {
		if ob := t.c.o.observer; ob != nil {
			ob.Wait(req.URL.Host, wait, WaitRetryAfter)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
	queued, err := g.flow.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.waitRate(ctx, g, req.URL.Host); err != nil {
		g.flow.done(outcome{queued: queued})
		return nil, err
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	// Strain is a request that timed out or was cut off; not one that
	// failed for what it asked (ggcr's ping tries https on plain-HTTP
	// registries, for one).
	o := outcome{queued: queued, strained: err != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || retryable(err))}
	if err == nil && isMetadata(req) {
		o.latency = max(time.Since(start), time.Nanosecond)
	}
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		o.strained = true
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			nb := time.Now().Add(min(d, maxHold))
			g.mu.Lock()
			later := nb.After(g.notBefore)
			if later {
				g.notBefore = nb
			}
			g.mu.Unlock()
			if later && t.c.cache != nil {
				_ = t.c.cache.storeHold(req.URL.Host, nb) // best effort: the cache is only a cache
			}
		}
	}
	g.flow.done(o)
	return resp, err
}

// isMetadata reports a request for a manifest or a blob: the requests
// whose latency tells how a registry copes (see flow).
func isMetadata(req *http.Request) bool {
	return strings.Contains(req.URL.Path, "/manifests/") || strings.Contains(req.URL.Path, "/blobs/")
}

// waitRate waits for a token of the host's bucket (rate.Limiter.Wait,
// spelled out so that a wait worth telling reaches the observer).
func (t *politeTransport) waitRate(ctx context.Context, g *gate, host string) error {
	r := g.lim.Reserve()
	if !r.OK() {
		return fmt.Errorf("rate limit of %s: no burst", host)
	}
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	if ob := t.c.o.observer; ob != nil && d > time.Second {
		ob.Wait(host, d, WaitRateLimit)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// schemeGuard enforces the plain-HTTP rule (DESIGN.md §4b) on every request
// before it leaves: see plainHTTPAllowed. It sits at the bottom of the
// stack, below authentication, so it sees the credentials a request carries.
type schemeGuard struct {
	insecureHost string // the registry whose Host entry says Insecure ("" for none)
	next         http.RoundTripper
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		creds := req.Header.Get("Authorization") != "" || req.URL.User != nil
		if !plainHTTPAllowed(req.URL.Host, req.URL.Host == g.insecureHost, creds) {
			return nil, plainHTTPRefused(req.URL.Host, creds)
		}
	}
	return g.next.RoundTrip(req)
}

// plainHTTPAllowed decides whether a request may go to host (host[:port])
// over plain HTTP: only when its registry entry says insecure (or
// --insecure), or, by docker's convention, to a loopback host (localhost,
// 127.0.0.0/8, ::1) without credentials. Never on the strength of a private
// address (10/8, 172.16/12, 192.168/16) or a *.local name, where whoever
// answers on the port would get the password: go-containerregistry alone
// falls back to plain HTTP there.
func plainHTTPAllowed(host string, insecure, credentials bool) bool {
	if insecure {
		return true
	}
	return !credentials && isLoopback(host)
}

// isLoopback reports localhost, 127.0.0.0/8 and ::1, with or without a port.
func isLoopback(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func plainHTTPRefused(host string, credentials bool) error {
	why := "the registry entry does not say insecure"
	if credentials {
		why = "it would send credentials in cleartext"
	}
	return fmt.Errorf("%w to %s: %s; serve TLS, or set insecure: true on its registries entry (tagwatch test/promote: --insecure) to allow it", ErrPlainHTTP, host, why)
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		// Beyond what a Duration holds: as long as it can be (callers cap it).
		if s > int(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}
