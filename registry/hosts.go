package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// match returns the settings for ref (a repository or registry name such as
// "registry.example.com/team/app"): the Host with the longest Prefix that
// equals ref or is a parent path of it, or the zero Host.
func match(hosts []Host, ref string) Host {
	best := Host{}
	for _, h := range hosts {
		if (ref == h.Prefix || strings.HasPrefix(ref, h.Prefix+"/")) && len(h.Prefix) > len(best.Prefix) {
			best = h
		}
	}
	return best
}

// credentialsRef is a parsed Host.Credentials: where the secret lives, never the secret.
type credentialsRef struct {
	env, file string
	// dockerConfig: file is a docker config (config.json, a Kubernetes
	// pull secret's .dockerconfigjson); a "file:" holding JSON is one too.
	dockerConfig bool
	registry     string // the host whose entry a docker config gives
}

func parseCredentialsRef(s string) (credentialsRef, error) {
	switch {
	case strings.HasPrefix(s, "env:") && len(s) > len("env:"):
		return credentialsRef{env: s[len("env:"):]}, nil
	case strings.HasPrefix(s, "file:") && len(s) > len("file:"):
		return credentialsRef{file: s[len("file:"):]}, nil
	case strings.HasPrefix(s, "dockerconfig:") && len(s) > len("dockerconfig:"):
		return credentialsRef{file: s[len("dockerconfig:"):], dockerConfig: true}, nil
	}
	return credentialsRef{}, errors.New(`credentials: must be "env:VAR", "file:/path" or "dockerconfig:/path"`)
}

// Authorization implements authn.Authenticator. The secret is read at use
// time, so a rotated file is picked up; errors name where it was looked for,
// never its content.
func (c credentialsRef) Authorization() (*authn.AuthConfig, error) {
	var raw string
	switch {
	case c.env != "":
		v, ok := os.LookupEnv(c.env)
		if !ok {
			return nil, fmt.Errorf("credentials: environment variable %s is not set", c.env)
		}
		raw = v
	default:
		b, err := readSecretFile(c.file)
		if err != nil {
			return nil, err
		}
		if c.dockerConfig || isDockerConfig(b) {
			return dockerConfigAuth(b, c.registry, c.where())
		}
		raw = string(b)
	}
	return parseUserPass(raw, c.where())
}

// parseUserPass reads "user:pass" (surrounding space trimmed). Its error
// names where the text came from, never the text.
func parseUserPass(raw, where string) (*authn.AuthConfig, error) {
	user, pass, ok := strings.Cut(strings.TrimSpace(raw), ":")
	if !ok || user == "" {
		return nil, fmt.Errorf("credentials from %s: want \"user:pass\"", where)
	}
	return &authn.AuthConfig{Username: user, Password: pass}, nil
}

func (c credentialsRef) where() string {
	switch {
	case c.env != "":
		return "env:" + c.env
	case c.dockerConfig:
		return "dockerconfig:" + c.file
	}
	return "file:" + c.file
}

// remotes is what talking to the registries of one Host entry needs.
type remotes struct {
	host     Host
	nameOpts []name.Option
	rt       http.RoundTripper   // ggcr's User-Agent and retry over ours; below auth and scheme
	auth     authn.Authenticator // from Host.Credentials; nil: the keychain decides per repository
	pusher   *remote.Pusher
}

// newRemotes builds the transport stack for h. Outermost first: ggcr's
// User-Agent and retry, then ours: rate limit and Retry-After, per-request
// timeout and body cap, counting, the plain-HTTP rule, then the base
// transport. Authentication and scheme selection sit above, per repository
// (see conn); the pusher (Retag) does its own.
func (c *Client) newRemotes(h Host) (*remotes, error) {
	base, err := c.baseTransport(h)
	if err != nil {
		return nil, err
	}
	var nameOpts []name.Option
	if h.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	guard := &schemeGuard{insecureHost: registryHost(h), next: base}
	ours := &politeTransport{c: c, next: &timeoutTransport{d: c.o.timeout, maxBody: c.o.maxBody,
		next: &countTransport{stats: &c.stats, observer: c.o.observer, next: guard}}}
	backoff := transport.Backoff{Duration: c.o.retryBase, Factor: 2, Jitter: 0.5, Steps: c.o.retries}
	rt := transport.NewUserAgent(transport.NewRetry(ours, transport.WithRetryBackoff(backoff),
		transport.WithRetryPredicate(retryable), transport.WithRetryStatusCodes(retryStatusCodes...)), c.o.userAgent)

	r := &remotes{host: h, nameOpts: nameOpts, rt: rt}
	pushAuth := remote.WithAuthFromKeychain(c.o.keychain)
	if h.Credentials != "" {
		ref, err := parseCredentialsRef(h.Credentials)
		if err != nil {
			return nil, err
		}
		ref.registry = registryOf(h.Prefix)
		r.auth = ref
		pushAuth = remote.WithAuth(ref)
	}
	// The pusher gets our transports alone: ggcr adds the same retry and
	// User-Agent on top, and does the handshake with push scope itself.
	if r.pusher, err = remote.NewPusher(remote.WithTransport(ours), pushAuth, remote.WithJobs(4),
		remote.WithUserAgent(c.o.userAgent), remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...), remote.WithRetryPredicate(retryable)); err != nil {
		return nil, err
	}
	return r, nil
}

// registryHost is the registry (host[:port]) h.Insecure applies to.
func registryHost(h Host) string {
	if !h.Insecure {
		return ""
	}
	reg, _, _ := strings.Cut(h.Prefix, "/")
	return reg
}

// conn is an authenticated connection to one repository: ggcr's handshake
// (ping, then a token when the registry asks for one) done once and shared
// by the tag-list walk (client) and ggcr's puller (manifests, blobs).
type conn struct {
	mu      sync.Mutex
	client  *http.Client
	puller  *remote.Puller
	credKey string // the CredentialFunc's key it is made with; never changes
}

// conn returns the connection to t's repository, making it on first use.
// A failed handshake is not kept: the next call tries again.
func (c *Client) conn(ctx context.Context, t target) (*conn, error) {
	key := t.repo.Name()
	own, credKey, err := c.repoCredentials(ctx, key)
	if err != nil {
		return nil, err
	}
	c.connsMu.Lock()
	cn, ok := c.conns[key]
	if !ok || cn.credKey != credKey {
		cn = &conn{credKey: credKey}
		c.conns[key] = cn
	}
	c.connsMu.Unlock()
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.puller != nil {
		return cn, nil
	}
	auth := t.r.auth
	if credKey != "" {
		auth = own
	}
	if auth == nil {
		a, err := authn.Resolve(ctx, c.o.keychain, t.repo)
		if err != nil {
			return nil, err
		}
		auth = a
	}
	tr, err := transport.NewWithContext(ctx, t.repo.Registry, auth, t.r.rt, []string{t.repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	// The flow of the host bounds the requests in flight (flow.go); the
	// puller's own bound (4 blob fetches at once by default) would hold
	// config reads below it.
	puller, err := remote.NewPuller(remote.WithTransport(tr), remote.WithJobs(MaxConcurrency))
	if err != nil {
		return nil, err
	}
	cn.client = &http.Client{Transport: tr, CheckRedirect: sameHostRedirect}
	cn.puller = puller
	return cn, nil
}

// sameHostRedirect follows a redirect of a tag list only to the same host.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("redirect to another host (%s) refused", req.URL.Host)
	}
	return nil
}

// baseTransport returns the transport below ours for h: WithTransport's, or a
// tuned *http.Transport, with h.CAFile added to the system roots.
func (c *Client) baseTransport(h Host) (http.RoundTripper, error) {
	var t *http.Transport
	switch b := c.o.base.(type) {
	case nil:
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	case *http.Transport:
		if h.CAFile == "" {
			return b, nil
		}
		t = b.Clone()
	default:
		return b, nil
	}
	if h.CAFile != "" {
		pem, err := os.ReadFile(h.CAFile)
		if err != nil {
			return nil, fmt.Errorf("registry host %q: caFile: %w", h.Prefix, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry host %q: caFile %s: no PEM certificate found", h.Prefix, h.CAFile)
		}
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			t.TLSClientConfig = t.TLSClientConfig.Clone()
		}
		t.TLSClientConfig.RootCAs = pool
	}
	return t, nil
}
