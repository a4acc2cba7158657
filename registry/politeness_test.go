package registry_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
	"golang.org/x/sync/errgroup"
)

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     testreg.Fault
		wantErr   error // nil: success after retries
		wantLists int
	}{
		{name: "429 with Retry-After", fault: testreg.Fault{Status: 429, RetryAfter: "1", Times: 2}, wantLists: 3},
		{name: "502", fault: testreg.Fault{Status: 502}, wantLists: 2},
		{name: "503", fault: testreg.Fault{Status: 503, Times: 2}, wantLists: 3},
		{name: "504", fault: testreg.Fault{Status: 504}, wantLists: 2},
		{name: "connection reset", fault: testreg.Fault{Reset: true}, wantLists: 2},
		{name: "429 forever", fault: testreg.Fault{Status: 429, Times: 100}, wantErr: registry.ErrRateLimited, wantLists: 3},
		{name: "500 is not retried", fault: testreg.Fault{Status: 500}, wantLists: 1, wantErr: errAny},
		{name: "401 is not retried", fault: testreg.Fault{Status: 401}, wantLists: 1, wantErr: registry.ErrUnauthorized},
		{name: "403 is not retried", fault: testreg.Fault{Status: 403}, wantLists: 1, wantErr: registry.ErrUnauthorized},
		{name: "404 is not retried", fault: testreg.Fault{Status: 404}, wantLists: 1, wantErr: registry.ErrNotFound},
		{name: "truncated JSON", fault: testreg.Fault{Truncate: true}, wantLists: 1, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testreg.Start(t, testreg.Options{})
			seed(t, srv, "team/app", []string{"1.0.0"})
			tc.fault.Method, tc.fault.Path = "GET", "/tags/list"
			srv.Inject(tc.fault)
			srv.ResetCounts()
			c := newClient(t, srv.Target)
			tags, err := c.ListTags(context.Background(), srv.Repo("team/app"))
			switch {
			case tc.wantErr == nil && (err != nil || len(tags) != 1):
				t.Errorf("ListTags = %q, %v; want success", tags, err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			case err != nil && !strings.Contains(err.Error(), srv.Repo("team/app")):
				t.Errorf("error does not name the repository: %v", err)
			}
			if n := srv.Count("GET", "/tags/list"); n != tc.wantLists {
				t.Errorf("%d list requests, want %d: %q", n, tc.wantLists, srv.Requests())
			}
		})
	}
}

var errAny = errors.New("any error")

func TestTimeout(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	seed(t, srv, "team/app", []string{"1.0.0"})
	srv.Inject(testreg.Fault{Method: "GET", Path: "/tags/list", Delay: 10 * time.Second})
	c := newClient(t, srv.Target, registry.WithTimeout(100*time.Millisecond))
	_, err := c.ListTags(context.Background(), srv.Repo("team/app"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

func TestCallerCancel(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	seed(t, srv, "team/app", []string{"1.0.0"})
	srv.Inject(testreg.Fault{Method: "GET", Path: "/tags/list", Delay: 2 * time.Second})
	c := newClient(t, srv.Target)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.ListTags(ctx, srv.Repo("team/app")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the caller's deadline", err)
	}
}

func TestAuth(t *testing.T) {
	const user, pass = "robot", "s3cret-Pa55"
	srv := testreg.Start(t, testreg.Options{User: user, Pass: pass})
	seed(t, srv, "team/app", []string{"1.0.0"})
	repo := srv.Repo("team/app")
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(user+":"+pass+"\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte(user+":wrong-"+pass), 0o600)
	malformed := filepath.Join(dir, "malformed")
	os.WriteFile(malformed, []byte(pass), 0o600)
	t.Setenv("TAGWATCH_TEST_REGISTRY_AUTH", user+":"+pass)

	dockerConfig := t.TempDir()
	os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(`{"auths":{"`+srv.Prefix()+`":{"username":"`+user+`","password":"`+pass+`"}}}`), 0o600)
	// A Kubernetes pull secret mounted as a file: .dockerconfigjson with a base64 auth.
	pullSecret := filepath.Join(dir, ".dockerconfigjson")
	os.WriteFile(pullSecret, []byte(`{"auths":{"https://`+srv.Prefix()+`/v2/":{"auth":"`+base64.StdEncoding.EncodeToString([]byte(user+":"+pass))+`"}}}`), 0o600)
	otherHost := filepath.Join(dir, "other-host.json")
	os.WriteFile(otherHost, []byte(`{"auths":{"ghcr.io":{"auth":"`+base64.StdEncoding.EncodeToString([]byte(user+":"+pass))+`"}}}`), 0o600)

	for _, tc := range []struct {
		name    string
		host    registry.Host
		kc      authn.Keychain
		wantErr error
	}{
		{name: "anonymous", wantErr: registry.ErrUnauthorized},
		{name: "file", host: registry.Host{Credentials: "file:" + good}},
		{name: "env", host: registry.Host{Credentials: "env:TAGWATCH_TEST_REGISTRY_AUTH"}},
		{name: "docker config.json", kc: authn.DefaultKeychain},
		{name: "wrong password", host: registry.Host{Credentials: "file:" + bad}, wantErr: registry.ErrUnauthorized},
		{name: "malformed file", host: registry.Host{Credentials: "file:" + malformed}, wantErr: errAny},
		{name: "unset env", host: registry.Host{Credentials: "env:TAGWATCH_TEST_UNSET"}, wantErr: errAny},
		{name: "dockerconfig", host: registry.Host{Credentials: "dockerconfig:" + pullSecret}},
		{name: "file holding a docker config", host: registry.Host{Credentials: "file:" + pullSecret}},
		{name: "docker config without the host", host: registry.Host{Credentials: "dockerconfig:" + otherHost}, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", dockerConfig)
			tc.host.Prefix, tc.host.Insecure = srv.Prefix(), true // plain HTTP with credentials
			opts := []registry.Option{registry.WithHosts(tc.host), registry.WithRetry(1, 0)}
			if tc.kc != nil {
				opts = append(opts, registry.WithKeychain(tc.kc))
			} else {
				opts = append(opts, registry.WithKeychain(emptyKeychain{}))
			}
			c, err := registry.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetCounts()
			_, err = c.ListTags(context.Background(), repo)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if msg := err.Error(); strings.Contains(msg, pass) || !strings.Contains(msg, repo) {
					t.Errorf("error leaks the password or does not name %s: %s", repo, msg)
				}
				if n := srv.Count("GET", "/tags/list"); n > 1 {
					t.Errorf("unauthorized list retried %d times", n)
				}
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []registry.Option
		want string
	}{
		{"credentials syntax", []registry.Option{registry.WithHosts(registry.Host{Prefix: "r.example", Credentials: "user:pass"})}, `"env:VAR", "file:/path" or "dockerconfig:/path"`},
		{"empty prefix", []registry.Option{registry.WithHosts(registry.Host{})}, "prefix"},
		{"scheme in prefix", []registry.Option{registry.WithHosts(registry.Host{Prefix: "https://r.example"})}, "without a scheme"},
		{"duplicate", []registry.Option{registry.WithHosts(registry.Host{Prefix: "r.example"}, registry.Host{Prefix: "r.example/"})}, "duplicate"},
		{"negative rate", []registry.Option{registry.WithHosts(registry.Host{Prefix: "r.example", RateLimit: -1})}, "rateLimit"},
		{"missing CA", []registry.Option{registry.WithHosts(registry.Host{Prefix: "r.example", CAFile: "/nonexistent/ca.pem"})}, "/nonexistent/ca.pem"},
		{"page size", []registry.Option{registry.WithPageSize(0)}, "page size"},
		{"retry", []registry.Option{registry.WithRetry(0, 0)}, "retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registry.New(tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestInsecureHost: Insecure makes a host that is not on a private address
// reachable over plain HTTP (here through a name that resolves to loopback).
func TestInsecureHost(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	seed(t, srv, "team/app", []string{"1.0.0"})
	_, port, _ := strings.Cut(srv.Prefix(), ":")
	host := "tagwatch-insecure.test:" + port
	dial := &http.Transport{DialContext: srv.Transport().(*http.Transport).DialContext}
	dial.Proxy = nil
	base := &rewriteHost{to: srv.Prefix(), next: dial}
	c, err := registry.New(registry.WithTransport(base), registry.WithKeychain(emptyKeychain{}),
		registry.WithHosts(registry.Host{Prefix: host, Insecure: true}), registry.WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTags(context.Background(), host+"/team/app")
	if err != nil || len(tags) != 1 {
		t.Errorf("ListTags = %q, %v", tags, err)
	}
}

// rewriteHost sends every request to the address to, keeping the Host header.
type rewriteHost struct {
	to   string
	next http.RoundTripper
}

func (r *rewriteHost) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" {
		return nil, errors.New("https refused by test transport")
	}
	out := req.Clone(req.Context())
	out.URL.Host = r.to
	return r.next.RoundTrip(out)
}

// TestAuthBearer: the token flow of Docker Hub and GHCR (a 401 challenge,
// a token from the realm against basic credentials, then bearer requests).
func TestAuthBearer(t *testing.T) {
	const user, pass = "robot", "t0ken-Pa55"
	srv := testreg.Start(t, testreg.Options{User: user, Pass: pass, Bearer: true})
	seed(t, srv, "team/app", []string{"1.0.0"})
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte(user+":"+pass), 0o600)
	os.WriteFile(bad, []byte(user+":x"+pass), 0o600)
	for _, tc := range []struct {
		name, creds string
		wantErr     bool
	}{
		{"token", "file:" + good, false},
		{"wrong password", "file:" + bad, true},
		{"anonymous", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := registry.New(registry.WithKeychain(emptyKeychain{}), registry.WithRetry(1, 0),
				registry.WithHosts(registry.Host{Prefix: srv.Prefix(), Insecure: true, Credentials: tc.creds}))
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetCounts()
			tags, err := c.ListTags(context.Background(), srv.Repo("team/app"))
			if !tc.wantErr {
				if err != nil || len(tags) != 1 {
					t.Fatalf("ListTags = %q, %v", tags, err)
				}
				if srv.Count("GET", "/token") != 1 || c.Stats().Other < 2 {
					t.Errorf("no token flow: %q, %+v", srv.Requests(), c.Stats())
				}
				return
			}
			t.Log(err)
			if !errors.Is(err, registry.ErrUnauthorized) || strings.Contains(err.Error(), pass) {
				t.Errorf("err = %v, want ErrUnauthorized without the password", err)
			}
		})
	}
}

// TestPlainHTTPWithCredentials: without insecure, a loopback registry may
// be reached over plain HTTP (docker's convention) but never with
// credentials; the error says how to allow it, and the credentials never
// leave. Over TLS, or with insecure, the same credentials work.
func TestPlainHTTPWithCredentials(t *testing.T) {
	const user, pass = "robot", "cl3artext-Pa55"
	for _, tc := range []struct {
		name     string
		opts     testreg.Options
		insecure bool
		wantErr  bool
	}{
		{name: "basic over http", opts: testreg.Options{User: user, Pass: pass}, wantErr: true},
		{name: "token over http", opts: testreg.Options{User: user, Pass: pass, Bearer: true}, wantErr: true},
		{name: "basic over http, insecure", opts: testreg.Options{User: user, Pass: pass}, insecure: true},
		{name: "basic over https", opts: testreg.Options{User: user, Pass: pass, TLS: true}},
		{name: "token over https", opts: testreg.Options{User: user, Pass: pass, Bearer: true, TLS: true}},
		{name: "anonymous over http", opts: testreg.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testreg.Start(t, tc.opts)
			seed(t, srv, "team/app", []string{"1.0.0"})
			creds := ""
			if tc.opts.User != "" {
				creds = srv.CredentialsFile(t)
			}
			c, err := registry.New(registry.WithKeychain(emptyKeychain{}), registry.WithRetry(1, 0),
				registry.WithHosts(registry.Host{Prefix: srv.Prefix(), CAFile: srv.CAFile, Credentials: creds, Insecure: tc.insecure}))
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetCounts()
			tags, err := c.ListTags(context.Background(), srv.Repo("team/app"))
			if !tc.wantErr {
				if err != nil || len(tags) != 1 {
					t.Fatalf("ListTags = %q, %v", tags, err)
				}
				return
			}
			if !errors.Is(err, registry.ErrPlainHTTP) || !strings.Contains(err.Error(), "insecure: true") || strings.Contains(err.Error(), pass) {
				t.Errorf("err = %v, want ErrPlainHTTP saying how to allow it", err)
			}
			// Only the unauthenticated ping went out: no request carried
			// the credentials (the token endpoint and the tag list never
			// saw one).
			for _, r := range srv.Requests() {
				if !strings.HasPrefix(r, "GET /v2/ ") && r != "GET /v2/" {
					t.Errorf("request sent: %s", r)
				}
			}
		})
	}
}

// TestRequestsInFlightBounded: however many callers ask at once, a host
// gets at most registry.MaxConcurrency requests at a time (the adaptive
// flow, flow.go), metadata reads of new tags (manifest, then config blob)
// included.
func TestRequestsInFlightBounded(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	tags := tagNames("sha-", 200)
	for i, tag := range tags {
		srv.PushImage(t, "team/app", created.Add(time.Duration(i)*time.Minute), tag)
	}
	front, proxy := testreg.StartDelayProxy(t, srv.Target, 10*time.Millisecond)
	c := newClient(t, front)
	g := errgroup.Group{}
	for _, tag := range tags { // 200 callers at once
		g.Go(func() error { _, err := c.Describe(context.Background(), front.Repo("team/app"), tag); return err })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := proxy.Counts(); got.Manifest != 200 || got.Blob != 200 {
		t.Errorf("requests %s, want 200 manifest and 200 blob GETs", got)
	}
	if peak := proxy.Peak(); peak > registry.MaxConcurrency {
		t.Errorf("%d requests at once, want at most %d", peak, registry.MaxConcurrency)
	}
	t.Logf("at most %d requests at once", proxy.Peak())
}
