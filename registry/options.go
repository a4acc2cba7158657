package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Defaults of New.
const (
	// DefaultRateLimit and DefaultBurst are the token bucket of a registry
	// host without a RateLimit: 20 requests a second sustained (DESIGN
	// §1's default), in bursts of up to 1,000, so that a `tagwatch test`
	// or a cycle of up to 1,000 requests is never slowed down by tagwatch
	// itself (a registry that wants less says so with 429 and Retry-After,
	// which are honoured); the bucket, refilled in under a minute, only
	// holds back what a runaway (a webhook storm, a huge newest-build) can
	// send. See docs/operations.md for the figures.
	DefaultRateLimit     = 20.0
	DefaultBurst         = 1000
	DefaultPageSize      = 1000             // tags asked per page (?n=) of registries that page; ECR refuses more
	DefaultMaxPages      = 1000             // pages followed before ListTags gives up
	DefaultMaxTags       = 1_000_000        // tags accepted before ListTags gives up
	DefaultTimeout       = 30 * time.Second // per HTTP request, body included
	DefaultRetries       = 4                // attempts per request on transient failures
	DefaultRetryBase     = 500 * time.Millisecond
	DefaultMaxRetryAfter = 60 * time.Second // longest Retry-After waited for; longer ones fail fast
	// DefaultMaxBodySize caps every registry answer: DefaultMaxTags tags of
	// the longest valid length (128) fit in one tag list of this size.
	DefaultMaxBodySize = 128 << 20
)

type options struct {
	observer      Observer // nil: none
	hosts         []Host
	cacheDir      string
	base          http.RoundTripper // nil: a tuned *http.Transport per host
	keychain      authn.Keychain
	credentials   CredentialFunc // nil: Host credentials and the keychain only
	userAgent     string
	pageSize      int
	pageSizeSet   bool // WithPageSize: ask every host for pages
	maxPages      int
	maxTags       int
	timeout       time.Duration
	retries       int
	retryBase     time.Duration
	maxRetryAfter time.Duration
	maxBody       int64
}

// makeOptions applies opts over the defaults and validates the result.
func makeOptions(opts ...Option) (*options, error) {
	o := &options{
		keychain:      authn.DefaultKeychain,
		userAgent:     "tagwatch",
		pageSize:      DefaultPageSize,
		maxPages:      DefaultMaxPages,
		maxTags:       DefaultMaxTags,
		timeout:       DefaultTimeout,
		retries:       DefaultRetries,
		retryBase:     DefaultRetryBase,
		maxRetryAfter: DefaultMaxRetryAfter,
		maxBody:       DefaultMaxBodySize,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for i := range o.hosts {
		h := &o.hosts[i]
		h.Prefix = normalizePrefix(h.Prefix)
		if err := h.validate(); err != nil {
			return nil, fmt.Errorf("registry host %d (%q): %w", i, h.Prefix, err)
		}
		if seen[h.Prefix] {
			return nil, fmt.Errorf("registry host %d: duplicate prefix %q", i, h.Prefix)
		}
		seen[h.Prefix] = true
		if h.CAFile != "" && o.base != nil {
			if _, ok := o.base.(*http.Transport); !ok {
				return nil, fmt.Errorf("registry host %q: caFile needs the default transport, not WithTransport", h.Prefix)
			}
		}
	}
	return o, nil
}

// WithHosts sets per-registry settings.
func WithHosts(hosts ...Host) Option {
	return func(o *options) error {
		o.hosts = append(o.hosts, hosts...)
		return nil
	}
}

// WithCacheDir enables the persistent digest-keyed metadata cache under dir.
// The directory is created when missing.
func WithCacheDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("cache dir: empty path")
		}
		o.cacheDir = dir
		return nil
	}
}

// WithTransport sets the base transport every request goes through (below
// the rate limit, retries and auth). Tests use it; by default each host gets
// a tuned *http.Transport. A *http.Transport given here is cloned per host so
// that caFile still applies.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("transport: nil")
		}
		o.base = rt
		return nil
	}
}

// WithKeychain replaces the default keychain (docker config.json and
// credential helpers) used for hosts without Credentials.
func WithKeychain(kc authn.Keychain) Option {
	return func(o *options) error {
		if kc == nil {
			return errors.New("keychain: nil")
		}
		o.keychain = kc
		return nil
	}
}

// WithUserAgent sets the User-Agent product ("tagwatch/1.2.3").
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}

// WithPageSize makes ListTags ask every registry for pages of n tags
// (?n=). Without it, a registry is first asked for the whole list, and
// for pages of DefaultPageSize once it is known to page on its own (see
// ListTags).
func WithPageSize(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("page size %d: must be at least 1", n)
		}
		o.pageSize, o.pageSizeSet = n, true
		return nil
	}
}

// WithMaxPages bounds the pages ListTags follows; more is an error wrapping ErrTooManyTags.
func WithMaxPages(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max pages %d: must be at least 1", n)
		}
		o.maxPages = n
		return nil
	}
}

// WithMaxBodySize caps the size of every registry answer (tag list page,
// manifest, config blob, token); a larger one fails the request with
// ErrBodyTooLarge as soon as it is known, without reading the rest.
func WithMaxBodySize(n int64) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max body size %d: must be at least 1", n)
		}
		o.maxBody = n
		return nil
	}
}

// WithMaxTags bounds the tags ListTags accepts; more is an error wrapping
// ErrTooManyTags, as soon as the tag past the bound is read.
func WithMaxTags(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max tags %d: must be at least 1", n)
		}
		o.maxTags = n
		return nil
	}
}

// WithTimeout sets the timeout of each HTTP request, reading the body included.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v: must be positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithRetry sets how often a request is tried on 429/502/503/504 and
// connection resets (attempts ≥ 1; 1 disables retries) and the first backoff,
// which doubles with up to 50% jitter.
func WithRetry(attempts int, base time.Duration) Option {
	return func(o *options) error {
		if attempts < 1 {
			return fmt.Errorf("retry attempts %d: must be at least 1", attempts)
		}
		if base < 0 {
			return fmt.Errorf("retry backoff %v: must not be negative", base)
		}
		o.retries, o.retryBase = attempts, base
		return nil
	}
}

// WithMaxRetryAfter is the longest a request waits for a host that answered
// with a Retry-After. Until a longer one passes (at most a day), requests
// to that host fail at once with ErrRateLimited; with WithCacheDir, in later
// processes too.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("max Retry-After %v: must not be negative", d)
		}
		o.maxRetryAfter = d
		return nil
	}
}

func (h Host) validate() error {
	if h.Prefix == "" {
		return errors.New("prefix: empty")
	}
	if strings.Contains(h.Prefix, "://") {
		return errors.New("prefix: must be host[:port][/path], without a scheme")
	}
	if h.RateLimit < 0 {
		return fmt.Errorf("rateLimit %v: must not be negative", h.RateLimit)
	}
	if h.TagTTL < 0 {
		return fmt.Errorf("tagTTL %v: must not be negative", h.TagTTL)
	}
	if h.Credentials != "" {
		if _, err := parseCredentialsRef(h.Credentials); err != nil {
			return err
		}
	}
	return nil
}

func normalizePrefix(p string) string {
	p = strings.TrimRight(strings.TrimSpace(p), "/")
	if p == "docker.io" || strings.HasPrefix(p, "docker.io/") {
		p = "index." + p
	}
	return p
}
