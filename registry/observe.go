package registry

import (
	"net/http"
	"strings"
	"time"
)

// Observer is told about the client's traffic, for metrics and logs (the
// client itself never logs). It is called from the requests' goroutines:
// implementations are safe for concurrent use and do not block.
type Observer interface {
	// Request: one request on the wire (retries count), by kind (list,
	// head, manifest, blob, put, other) and status code (0: no response).
	Request(host, kind string, code int)
	// CacheHit: image metadata answered by the digest-keyed cache.
	CacheHit(host string)
	// Wait: requests to host are held back for d, because of a
	// Retry-After (the registry asked) or the client's rate limit.
	Wait(host string, d time.Duration, why string)
}

// WithObserver sets the observer of the client's traffic.
func WithObserver(ob Observer) Option {
	return func(o *options) error { o.observer = ob; return nil }
}

// Why a request waited (Observer.Wait).
const (
	WaitRetryAfter = "Retry-After"
	WaitRateLimit  = "rate limit"
)

// requestKind names a request as Stats and the metrics count it.
func requestKind(req *http.Request) string {
	p := req.URL.Path
	switch {
	case req.Method == http.MethodGet && strings.HasSuffix(p, "/tags/list"):
		return "list"
	case req.Method == http.MethodHead && strings.Contains(p, "/manifests/"):
		return "head"
	case req.Method == http.MethodGet && strings.Contains(p, "/manifests/"):
		return "manifest"
	case (req.Method == http.MethodGet || req.Method == http.MethodHead) && strings.Contains(p, "/blobs/"):
		return "blob"
	case req.Method == http.MethodPut || req.Method == http.MethodPost || req.Method == http.MethodPatch:
		return "put"
	}
	return "other" // ping (/v2/), token
}
