package registry

import (
	"context"
	"errors"
	"time"
)

// Host holds per-registry settings; the longest matching Prefix wins.
type Host struct {
	Prefix        string  // "registry.example.com" or "registry.example.com/team"
	Insecure      bool    // plain HTTP
	CAFile        string  // extra CA bundle (PEM)
	Credentials   string  // "env:VAR" or "file:/path" holding "user:pass"; "" = default keychain
	RateLimit     float64 // requests per second to this host; 0 = default (20)
	ImmutableTags bool    // a tag never moves: cached tag→digest is trusted without a HEAD
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

// Stats counts requests made to registries, by kind, since the client was made.
type Stats struct {
	List, Head, Manifest, Blob, Put int
}

// Sentinel errors callers branch on.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
)

// Client talks to registries. Safe for concurrent use.
type Client struct{}

// Option configures a Client.
type Option func(*options) error

type options struct{}

// New makes a Client.
func New(opts ...Option) (*Client, error) { panic("not implemented") }

// WithHosts sets per-registry settings.
func WithHosts(hosts ...Host) Option { panic("not implemented") }

// WithCacheDir enables the persistent digest-keyed metadata cache under dir.
func WithCacheDir(dir string) Option { panic("not implemented") }

// ListTags lists every tag of repo ("host/path"). Within one cycle (see
// NewCycle) the list is fetched once and shared by concurrent callers.
func (c *Client) ListTags(ctx context.Context, repo string) ([]string, error) {
	panic("not implemented")
}

// Digest returns the digest behind repo:tag (a HEAD request).
func (c *Client) Digest(ctx context.Context, repo, tag string) (string, error) {
	panic("not implemented")
}

// Describe returns digest, created time and platforms of repo:tag, using the cache.
func (c *Client) Describe(ctx context.Context, repo, tag string) (Meta, error) {
	panic("not implemented")
}

// NewCycle forgets the per-cycle tag lists; call it at the start of each poll cycle.
func (c *Client) NewCycle() { panic("not implemented") }

// Retag writes the manifest (or index) behind src ("repo:tag" or "repo@digest")
// under each of tags in the same repository, copying no blobs. It returns the digest.
func (c *Client) Retag(ctx context.Context, src string, tags ...string) (string, error) {
	panic("not implemented")
}

// Stats returns request counts so far.
func (c *Client) Stats() Stats { panic("not implemented") }
