package registry

import (
	"context"
	"errors"
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

	"github.com/google/go-containerregistry/pkg/name"
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
	stats *counters
	next  http.RoundTripper
}

func (t *countTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	switch {
	case req.Method == http.MethodGet && strings.HasSuffix(p, "/tags/list"):
		t.stats.list.Add(1)
	case req.Method == http.MethodHead && strings.Contains(p, "/manifests/"):
		t.stats.head.Add(1)
	case req.Method == http.MethodGet && strings.Contains(p, "/manifests/"):
		t.stats.manifest.Add(1)
	case (req.Method == http.MethodGet || req.Method == http.MethodHead) && strings.Contains(p, "/blobs/"):
		t.stats.blob.Add(1)
	case req.Method == http.MethodPut || req.Method == http.MethodPost || req.Method == http.MethodPatch:
		t.stats.put.Add(1)
	default:
		t.stats.other.Add(1) // ping (/v2/), token
	}
	return t.next.RoundTrip(req)
}

// timeoutTransport bounds each request, reading its body included.
type timeoutTransport struct {
	d    time.Duration
	next http.RoundTripper
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// gate is the politeness state of one registry host: a token bucket, and the
// time before which a Retry-After asked us not to come back.
type gate struct {
	lim       *rate.Limiter
	mu        sync.Mutex
	notBefore time.Time
}

func (c *Client) gate(host string) *gate {
	c.gatesMu.Lock()
	defer c.gatesMu.Unlock()
	if g, ok := c.gates[host]; ok {
		return g
	}
	r := match(c.o.hosts, host).RateLimit
	if r == 0 {
		r = DefaultRateLimit
	}
	burst := max(1, int(r))
	g := &gate{lim: rate.NewLimiter(rate.Limit(r), burst)}
	c.gates[host] = g
	return g
}

// politeTransport waits for the host's token bucket and any Retry-After
// before each request, and records Retry-After from 429 and 503 responses.
// It sits below ggcr's retry transport, so retries wait too.
type politeTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := t.c.gate(req.URL.Host)
	ctx := req.Context()
	g.mu.Lock()
	wait := time.Until(g.notBefore)
	g.mu.Unlock()
	if wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
	if err := g.lim.Wait(ctx); err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			d = min(d, t.c.o.maxRetryAfter)
			g.mu.Lock()
			if nb := time.Now().Add(d); nb.After(g.notBefore) {
				g.notBefore = nb
			}
			g.mu.Unlock()
		}
	}
	return resp, err
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

// linkFixTransport works around go-containerregistry v0.22.1 refusing tag
// pagination over TLS to registries on loopback or private addresses.
//
// The cause: name.Registry.Scheme() guesses "http" for localhost, 127.x,
// 10.x, 172.16/12, 192.168.x and *.local, while the ping finds that the
// registry speaks https; ggcr's scheme transport then rewrites the request
// URL to https in place. remote.getNextPageURL resolves the Link header
// against that https URL and validatePaginationURL compares the result with
// the guessed "http", failing with `pagination URL scheme "https" does not
// match registry scheme "http"`.
//
// The fix: when a Link resolves to the very origin (scheme and host) the
// request went to, rewrite it as an absolute URL carrying the scheme ggcr
// expects. ggcr's check then passes and its scheme transport turns the next
// request back into https. Links to any other host are left untouched, so
// ggcr's SSRF protection still refuses them.
type linkFixTransport struct {
	nameOpts []name.Option
	next     http.RoundTripper
}

func (t *linkFixTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Header.Get("Link") == "" {
		return resp, err
	}
	link := resp.Header.Get("Link")
	start, end := strings.IndexByte(link, '<'), strings.IndexByte(link, '>')
	if start != 0 || end < 0 {
		return resp, nil
	}
	target, perr := url.Parse(link[1:end])
	if perr != nil {
		return resp, nil
	}
	abs := req.URL.ResolveReference(target)
	if abs.Host != req.URL.Host || abs.Scheme != req.URL.Scheme {
		return resp, nil // another origin: ggcr decides, and refuses another host
	}
	reg, nerr := name.NewRegistry(req.URL.Host, t.nameOpts...)
	if nerr != nil || reg.Scheme() == abs.Scheme {
		return resp, nil
	}
	abs.Scheme = reg.Scheme()
	resp.Header.Set("Link", "<"+abs.String()+">"+link[end+1:])
	return resp, nil
}
