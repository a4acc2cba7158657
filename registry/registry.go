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
	RateLimit     float64 // requests per second to this host; 0 = default (20)
	ImmutableTags bool    // a tag never moves: Describe trusts a cached tag→digest without a HEAD (Digest always asks)
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
type Client struct {
	o     *options
	stats counters
	cache *diskCache // nil without WithCacheDir

	remotesMu sync.Mutex
	remotes   map[string]*remotes // by Host.Prefix ("" for no match)

	gatesMu sync.Mutex
	gates   map[string]*gate // by URL host

	mem      sync.Map // digest → Meta, what this process has learnt
	tagsSeen sync.Map // "repo:tag" → digest last seen
	group    singleflight.Group
	cyc      atomic.Pointer[cycle]
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
	c := &Client{o: o, remotes: map[string]*remotes{}, gates: map[string]*gate{}}
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
	c.cyc.Store(newCycle(1))
	return c, nil
}

// NewCycle forgets the per-cycle tag lists and digests; call it at the start
// of each poll cycle. The persistent metadata cache is kept.
func (c *Client) NewCycle() {
	c.cyc.Store(newCycle(c.cyc.Load().id + 1))
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

// cycle holds what is shared until the next NewCycle: tag lists and the
// digests behind tags, errors included, so that a failing repository is
// asked once per cycle, not once per environment.
type cycle struct {
	id      uint64
	mu      sync.Mutex
	lists   map[string]result[[]string]
	digests map[string]result[string]
	metas   map[string]result[Meta]
}

type result[T any] struct {
	v   T
	err error
}

func newCycle(id uint64) *cycle {
	return &cycle{id: id, lists: map[string]result[[]string]{}, digests: map[string]result[string]{}, metas: map[string]result[Meta]{}}
}

// shared runs fn once per key per cycle: concurrent callers wait for the
// same call (singleflight) and later callers of the cycle get its result.
// The call runs detached from the first caller's cancellation (every
// request has its own timeout); each caller stops waiting when its ctx ends.
func shared[T any](ctx context.Context, c *Client, kind string, memo func(*cycle) map[string]result[T], key string, fn func(context.Context) (T, error)) (T, error) {
	cyc := c.cyc.Load()
	cyc.mu.Lock()
	res, ok := memo(cyc)[key]
	cyc.mu.Unlock()
	if ok {
		return res.v, res.err
	}
	work := context.WithoutCancel(ctx)
	ch := c.group.DoChan(fmt.Sprintf("%s\x00%d\x00%s", kind, cyc.id, key), func() (any, error) {
		v, err := fn(work)
		cyc.mu.Lock()
		memo(cyc)[key] = result[T]{v, err}
		cyc.mu.Unlock()
		return v, err
	})
	select {
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case r := <-ch:
		v, _ := r.Val.(T)
		return v, r.Err
	}
}
