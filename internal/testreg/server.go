package testreg

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/tagwatch/tagwatch/internal/testenv"
)

// Options shape an in-process registry.
type Options struct {
	TLS bool // serve https with a certificate for 127.0.0.1 (CAFile trusts it)
	// User and Pass, when User is set, require HTTP basic auth on /v2/.
	User, Pass string
	// Bearer, with User, makes /v2/ ask for a bearer token instead, which
	// /token hands out against User and Pass (the Docker Hub, GHCR flow).
	Bearer bool
	// PageSize > 0 paginates tag lists: at most PageSize tags per answer
	// (fewer when the client asks ?n= smaller) with a Link header to the
	// next page when there is one. Without PageSize a client's ?n= is
	// honoured the same way.
	PageSize int
	// DefaultPageSize > 0 answers a tag list asked without ?n= in pages of
	// this size with a Link (Docker Hub and ECR send 100), and honours ?n=
	// up to PageSize (any, without PageSize).
	DefaultPageSize int
	// RepeatLastPage sends a Link after a full last page too; following it,
	// ggcr's registry underneath answers a `last` at or past the final tag
	// with the first page again. A client that trusts Links loops forever
	// (plain ggcr remote.List does).
	RepeatLastPage bool
	// NoLink serves tag lists as ggcr's registry alone does: ?n= honoured,
	// no Link header ever (a client trusting Links sees the first page only).
	NoLink bool
	// IgnoreLast drops ?last= from tag list requests: a registry that
	// honours ?n= but not last answers every page with the first one.
	IgnoreLast bool
	// Latency delays every /v2/ request (slow registry).
	Latency time.Duration
	// Referrers serves the OCI referrers API (GET /v2/<name>/referrers/<digest>).
	Referrers bool
}

// Fault is a misbehaviour injected into the next matching requests.
type Fault struct {
	Method string // "" matches any
	Path   string // substring of the URL path; "" matches any /v2/ request but the ping
	Times  int    // requests it applies to; 0 means 1
	After  int    // matching requests to let through untouched first

	Status     int           // answer with this status and a registry error body
	RetryAfter string        // Retry-After header sent with Status
	Delay      time.Duration // sleep before answering
	Truncate   bool          // answer normally but cut the body in half
	Link       string        // answer normally but with this Link header ("<url>; rel=\"next\"")
	DropHeader string        // answer normally but without this header (e.g. Docker-Content-Digest)
	Reset      bool          // close the connection without an answer
}

// Server is an in-process registry started by Start.
type Server struct {
	*Target
	*Handler
	srv *httptest.Server
}

// Handler is go-containerregistry's registry with Options applied, fault
// injection and request recording. Start serves one; programs that are not
// tests (benchmarks) can serve one themselves.
type Handler struct {
	reg   http.Handler
	opts  Options
	token string // the bearer token /token hands out

	mu       sync.Mutex
	faults   []*Fault
	requests []string
}

// NewHandler returns a fresh, empty registry handler. Latency, PageSize and
// User/Pass apply; TLS is up to whoever serves it.
func NewHandler(opts Options) *Handler {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(opts.Referrers))
	return &Handler{opts: opts, reg: reg, token: "tok-" + testenv.RandomHex(16)}
}

// Start runs go-containerregistry's registry on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Handler: NewHandler(opts)}
	s.srv = httptest.NewUnstartedServer(s.Handler)
	tg := &Target{User: opts.User, Pass: opts.Pass, dir: t.TempDir()}
	if opts.TLS {
		s.srv.StartTLS()
		tg.CAFile = filepath.Join(tg.dir, "ca.pem")
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
		if err := os.WriteFile(tg.CAFile, block, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	tg.URL = s.srv.URL
	tg.Host = strings.TrimPrefix(strings.TrimPrefix(s.srv.URL, "http://"), "https://")
	var err error
	if tg.transport, err = newTransport(tg.CAFile); err != nil {
		t.Fatal(err)
	}
	s.Target = tg
	return s
}

// Inject adds a fault for the next matching requests. Faults apply in the
// order injected.
func (s *Handler) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns every request served so far as "METHOD /path?query".
func (s *Handler) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Count returns how many requests had method ("" any) and a path containing substr.
func (s *Handler) Count(method, substr string) int {
	n := 0
	for _, r := range s.Requests() {
		m, rest, _ := strings.Cut(r, " ")
		p, _, _ := strings.Cut(rest, "?")
		if (method == "" || m == method) && strings.Contains(p, substr) {
			n++
		}
	}
	return n
}

// ResetCounts forgets the requests served so far.
func (s *Handler) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Handler) fault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.Path == "" && (r.URL.Path == "/v2/" || r.URL.Path == "/v2") {
			continue
		}
		if !strings.Contains(r.URL.Path, f.Path) {
			continue
		}
		if f.After > 0 {
			f.After--
			return nil
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := s.fault(r)
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	if f != nil && f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if f != nil && f.Reset {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	if s.opts.User != "" && !s.authenticated(w, r) {
		return
	}
	if f != nil && f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, f.Status, errorCode(f.Status), "injected fault")
		return
	}
	if s.opts.IgnoreLast && strings.HasSuffix(r.URL.Path, "/tags/list") {
		q := r.URL.Query()
		q.Del("last")
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
	}
	if f == nil || (!f.Truncate && f.Link == "" && f.DropHeader == "") {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tags/list") && !s.opts.NoLink {
			s.servePage(w, r)
			return
		}
		s.reg.ServeHTTP(w, r)
		return
	}
	serveAltered(w, r, s.reg, f, false)
}

// servePage answers a tag list page: ggcr's registry honours n and last,
// and we add the Link header it does not send, so that a client asking
// ?n= never sees a silently truncated list.
func (s *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	if n < 0 {
		n = 0
	}
	if n == 0 {
		n = s.opts.DefaultPageSize
	}
	if s.opts.PageSize > 0 && (n == 0 || n > s.opts.PageSize) {
		n = s.opts.PageSize
	}
	inner := r.Clone(r.Context())
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
		inner.URL.RawQuery = q.Encode()
	}
	rec := httptest.NewRecorder()
	s.reg.ServeHTTP(rec, inner)
	if rec.Code == http.StatusOK && n > 0 {
		var page struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err == nil && len(page.Tags) == n &&
			(s.opts.RepeatLastPage || s.hasAfter(r, page.Tags[n-1])) {
			next := fmt.Sprintf("%s?n=%d&last=%s", r.URL.Path, n, page.Tags[n-1])
			w.Header().Set("Link", "<"+next+`>; rel="next"`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Code)
	io.Copy(w, bytes.NewReader(rec.Body.Bytes()))
}

// authenticated checks the credentials of r; when they are missing or
// wrong it answers (401 with a challenge, or the token endpoint's answer).
func (s *Handler) authenticated(w http.ResponseWriter, r *http.Request) bool {
	basicOK := func() bool {
		u, p, ok := r.BasicAuth()
		return ok && u == s.opts.User && p == s.opts.Pass
	}
	switch {
	case !s.opts.Bearer:
		if basicOK() {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="testreg"`)
	case r.URL.Path == "/token":
		if !basicOK() {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad credentials")
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q,"access_token":%q,"expires_in":300}`, s.token, s.token)
		return false
	case r.Header.Get("Authorization") == "Bearer "+s.token:
		return true
	default:
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s://%s/token",service="testreg"`, scheme, r.Host))
	}
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

// hasAfter reports whether the tag list of r's repository has a tag after last.
func (s *Handler) hasAfter(r *http.Request, last string) bool {
	probe := r.Clone(r.Context())
	probe.URL.RawQuery = url.Values{"n": {"1"}, "last": {last}}.Encode()
	rec := httptest.NewRecorder()
	s.reg.ServeHTTP(rec, probe)
	var page struct {
		Tags []string `json:"tags"`
	}
	return json.Unmarshal(rec.Body.Bytes(), &page) == nil && len(page.Tags) == 1 && page.Tags[0] > last
}

// Tag puts the manifest behind repo:src (a tag or "sha256:…") under each of
// tags, talking to the registry in process: no network, so seeding 100,000
// tags takes seconds. repo is a path such as "team/app".
func (s *Handler) Tag(repo, src string, tags ...string) error {
	get := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+src, nil)
	get.Header.Set("Accept", strings.Join(manifestTypes, ","))
	s.authorize(get)
	rec := httptest.NewRecorder()
	s.reg.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("testreg: reading %s:%s: status %d", repo, src, rec.Code)
	}
	body, mt := rec.Body.Bytes(), rec.Header().Get("Content-Type")
	for _, tag := range tags {
		put := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
		put.Header.Set("Content-Type", mt)
		s.authorize(put)
		rec := httptest.NewRecorder()
		s.reg.ServeHTTP(rec, put)
		if rec.Code != http.StatusCreated {
			return fmt.Errorf("testreg: tagging %s:%s: status %d: %s", repo, tag, rec.Code, rec.Body)
		}
	}
	return nil
}

var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
}

func (s *Handler) authorize(r *http.Request) {
	if s.opts.User != "" {
		r.SetBasicAuth(s.opts.User, s.opts.Pass)
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func errorCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	case http.StatusNotFound:
		return "NAME_UNKNOWN"
	}
	return "UNKNOWN"
}

// Tag puts the manifest behind repo:src under each of tags, in process
// (fast: no network). Target.Tag does the same over HTTP.
func (s *Server) Tag(t testing.TB, repo, src string, tags ...string) {
	t.Helper()
	if err := s.Handler.Tag(repo, src, tags...); err != nil {
		t.Fatal(err)
	}
}
