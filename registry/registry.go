package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/singleflight"
)

// Host holds per-registry settings; the longest matching Prefix wins.
type Host struct {
	Prefix        string  // "registry.example.com" or "registry.example.com/team"
	Insecure      bool    // plain HTTP
	CAFile        string  // extra CA bundle (PEM)
	Credentials   string  // "env:VAR" or "file:/path" holding "user:pass"; "" = default keychain
	RateLimit     float64 // requests per second to this host, in bursts of as many; 0 = DefaultRateLimit in bursts of DefaultBurst
	ImmutableTags bool    // a tag never moves: Describe trusts a cached tag→digest without a HEAD (Digest always asks)
	// TagTTL > 0: Describe trusts a tag→digest seen (read or checked) less
	// than this long ago without a HEAD; a tag that moves is seen that
	// late. Digest always asks.
	TagTTL time.Duration
}

// Platform is one platform of an image or index, with its config's created time.
type Platform struct {
	Platform string // "linux/amd64", "linux/arm/v7"
	Created  time.Time
}

// Meta describes what a tag points at.
type Meta struct {
	Digest    string    // manifest or index digest, "sha256:…"
	Created   time.Time // single image: config created; index: newest platform
	Platforms []Platform
}

// Stats counts requests made to registries, by kind, since the client was
// made. Every request on the wire counts, retries included.
type Stats struct {
	List, Head, Manifest, Blob, Put int
	Other                           int // pings (GET /v2/) and token requests
}

// Total is the number of requests of every kind.
func (s Stats) Total() int { return s.List + s.Head + s.Manifest + s.Blob + s.Put + s.Other }

// Sentinel errors callers branch on.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
)

// Client talks to registries. Safe for concurrent use.
//
// A Client has no notion of a poll cycle: it shares concurrent identical
// requests (singleflight) and keeps what never changes (the metadata of a
// digest), and nothing else. Remembering answers for the length of a cycle
// is the caller's business (see internal/resolve.Memo).
type Client struct {
	o     *options
	stats counters
	cache *diskCache // nil without WithCacheDir

	remotesMu sync.Mutex
	remotes   map[string]*remotes // by Host.Prefix ("" for no match)

	connsMu sync.Mutex
	conns   map[string]*conn // by repository name

	gatesMu sync.Mutex
	gates   map[string]*gate // by URL host

	mem      sync.Map // digest → Meta, what this process has learnt
	tagsSeen sync.Map // "repo:tag" → tagEntry: the digest last seen, and when
	listings sync.Map // registry host → listing
	group    singleflight.Group
	calls    atomic.Int64 // calls of Describe, Digest, Retag and Copy under way
}

// Option configures a Client.
type Option func(*options) error

// New makes a Client. It validates every option and host setting (a caFile
// that cannot be read is an error here, not at the first request).
func New(opts ...Option) (*Client, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	c := &Client{o: o, remotes: map[string]*remotes{}, conns: map[string]*conn{}, gates: map[string]*gate{}}
	if o.cacheDir != "" {
		if c.cache, err = newDiskCache(o.cacheDir); err != nil {
			return nil, err
		}
	}
	for _, h := range append([]Host{{}}, o.hosts...) {
		r, err := c.newRemotes(h)
		if err != nil {
			return nil, err
		}
		c.remotes[h.Prefix] = r
	}
	return c, nil
}

// busy marks a call that may learn something for the cache under way;
// the func it returns ends it. When the last call under way ends, what
// was learnt goes to the cache directory, in one file: the client's work
// comes in bursts (a `tagwatch test`, a cycle), and a burst's end is the
// time to write.
func (c *Client) busy() func() {
	c.calls.Add(1)
	return func() {
		if c.calls.Add(-1) == 0 && c.cache != nil {
			c.cache.flush()
		}
	}
}

// Stats returns request counts so far.
func (c *Client) Stats() Stats { return c.stats.snapshot() }

// target is a parsed repository with the settings that apply to it.
type target struct {
	repo name.Repository
	r    *remotes
}

// resolve parses repo ("host/path", Docker Hub names accepted) and finds its settings.
func (c *Client) resolve(repo string) (target, error) {
	parsed, err := name.NewRepository(repo)
	if err != nil {
		return target{}, fmt.Errorf("repository %q: %w", repo, err)
	}
	h := match(c.o.hosts, parsed.Name())
	c.remotesMu.Lock()
	r := c.remotes[h.Prefix]
	c.remotesMu.Unlock()
	if len(r.nameOpts) > 0 {
		if parsed, err = name.NewRepository(repo, r.nameOpts...); err != nil {
			return target{}, fmt.Errorf("repository %q: %w", repo, err)
		}
	}
	return target{repo: parsed, r: r}, nil
}

// shared runs fn once for concurrent callers with the same kind and key
// (singleflight); a caller that comes after the call ended runs it again.
// The call runs detached from the first caller's cancellation (every
// request has its own timeout); each caller stops waiting when its ctx ends.
func shared[T any](ctx context.Context, c *Client, kind, key string, fn func(context.Context) (T, error)) (T, error) {
	work := context.WithoutCancel(ctx)
	ch := c.group.DoChan(kind+"\x00"+key, func() (any, error) { return fn(work) })
	select {
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case r := <-ch:
		v, _ := r.Val.(T)
		return v, r.Err
	}
}
