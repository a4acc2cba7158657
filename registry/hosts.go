package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
	puller   *remote.Puller
	pusher   *remote.Pusher
}

// newRemotes builds the ggcr puller and pusher for h. The transport stack,
// outermost first, is ggcr's (scheme, auth, User-Agent, retry) then ours
// (pagination Link fix, rate limit and Retry-After, per-request timeout,
// counting) then the base transport.
func (c *Client) newRemotes(h Host) (*remotes, error) {
	base, err := c.baseTransport(h)
	if err != nil {
		return nil, err
	}
	var nameOpts []name.Option
	if h.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	rt := &linkFixTransport{nameOpts: nameOpts, next: &politeTransport{c: c, next: &timeoutTransport{d: c.o.timeout, next: &countTransport{stats: &c.stats, next: base}}}}

	auth := remote.WithAuthFromKeychain(c.o.keychain)
	if h.Credentials != "" {
		ref, err := parseCredentialsRef(h.Credentials)
		if err != nil {
			return nil, err
		}
		ref.registry = registryOf(h.Prefix)
		auth = remote.WithAuth(ref)
	}
	opts := []remote.Option{
		remote.WithTransport(rt),
		auth,
		remote.WithPageSize(c.o.pageSize),
		remote.WithRetryBackoff(remote.Backoff{Duration: c.o.retryBase, Factor: 2, Jitter: 0.5, Steps: c.o.retries}),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithRetryPredicate(retryable),
		remote.WithJobs(4),
	}
	if c.o.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(c.o.userAgent))
	}
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, err
	}
	return &remotes{host: h, nameOpts: nameOpts, puller: puller, pusher: pusher}, nil
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
