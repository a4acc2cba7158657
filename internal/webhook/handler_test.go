package webhook

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testSecret = "s3cr3t-Value_that/never+leaks"

// recorder is the Sink and the Observer of a test handler.
type recorder struct {
	mu       sync.Mutex
	sunk     []sunk
	observed []observation
}

type sunk struct {
	Type   string
	Events []Event
}

type observation struct {
	Type   string
	Result Result
}

func (r *recorder) sink(typ string, evs []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sunk = append(r.sunk, sunk{typ, evs})
}

func (r *recorder) observe(typ string, res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observed = append(r.observed, observation{typ, res})
}

// take returns and forgets what was recorded.
func (r *recorder) take() ([]sunk, []observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, o := r.sunk, r.observed
	r.sunk, r.observed = nil, nil
	return s, o
}

func newTestHandler(t *testing.T, opts ...Option) (*Handler, *recorder) {
	t.Helper()
	rec := &recorder{}
	h, err := NewHandler(rec.sink, append([]Option{WithObserver(rec.observe)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h, rec
}

func staticSecret(s string) SecretFunc { return func() (string, error) { return s, nil } }

// sample is, per type, a payload that carries events, and its events.
var samples = map[string]struct {
	file   string
	header http.Header
}{
	TypeDistribution: {file: "push-tag.json"},
	TypeDockerHub:    {file: "push.json"},
	TypeGitHub:       {file: "package-published.json", header: ghEvent("package")},
	TypeHarbor:       {file: "push-artifact.json"},
	TypeQuay:         {file: "repository-push.json"},
	TypeCloudEvents:  {file: "ecr-push.json"},
	TypeGeneric:      {file: "push.json"},
}

func sampleEvents(t *testing.T, typ string) []Event {
	t.Helper()
	for _, c := range parseCases {
		if c.typ == typ && c.file == samples[typ].file {
			return c.want
		}
	}
	t.Fatalf("no parse case for the %s sample", typ)
	return nil
}

// credential says how a request authenticates.
type credential func(typ string, r *http.Request, body []byte)

// rightly signs or carries testSecret as typ expects.
func rightly(typ string, r *http.Request, body []byte) { as(testSecret)(typ, r, body) }

func as(secret string) credential {
	return func(typ string, r *http.Request, body []byte) {
		if p := providers[typ]; p.auth == signature {
			r.Header.Set(p.header, Sign(secret, body))
			return
		}
		r.Header.Set("Authorization", "Bearer "+secret)
	}
}

func anonymously(string, *http.Request, []byte) {}

func request(typ, method string, body []byte, header http.Header, cred credential) *http.Request {
	r := httptest.NewRequest(method, Path+"?type="+typ, bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	cred(typ, r, body)
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandlerEveryType runs, for every type, the statuses the contract
// names; nothing reaches the sink unless the answer is 202, and the
// observer hears of every request exactly once.
func TestHandlerEveryType(t *testing.T) {
	oversize := bytes.Repeat([]byte(" "), MaxBodyBytes+1)
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			s := samples[typ]
			body := readTestdata(t, typ, s.file)
			configured, rec := newTestHandler(t, WithSecret(typ, staticSecret(testSecret)))
			unconfigured, recU := newTestHandler(t)
			insecure, recI := newTestHandler(t, WithInsecure(true))
			tests := []struct {
				name     string
				h        http.Handler
				rec      *recorder
				req      *http.Request
				wantCode int
				want     Result
				wantSink bool
				wantText string
			}{
				{"accepted", configured, rec, request(typ, "POST", body, s.header, rightly), 202, ResultAccepted, true, "accepted: "},
				{"wrong secret", configured, rec, request(typ, "POST", body, s.header, as("guess")), 401, ResultUnauthorized, false, ""},
				{"no secret", configured, rec, request(typ, "POST", body, s.header, anonymously), 401, ResultUnauthorized, false, "missing"},
				{"unconfigured", unconfigured, recU, request(typ, "POST", body, s.header, rightly), 404, ResultUnauthorized, false, "not configured"},
				{"insecure, no secret", insecure, recI, request(typ, "POST", body, s.header, anonymously), 202, ResultAccepted, true, "accepted"},
				{"too large", configured, rec, request(typ, "POST", oversize, s.header, rightly), 413, ResultTooLarge, false, "larger than 1048576 bytes"},
				{"garbage", configured, rec, request(typ, "POST", []byte("<html>"), s.header, rightly), 400, ResultInvalid, false, typ + " payload: malformed JSON"},
				{"GET", configured, rec, request(typ, "GET", nil, s.header, rightly), 405, ResultInvalid, false, "method GET not allowed"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					w := serve(tc.h, tc.req)
					if w.Code != tc.wantCode {
						t.Errorf("status %d, want %d; body %q", w.Code, tc.wantCode, w.Body)
					}
					if !strings.Contains(w.Body.String(), tc.wantText) {
						t.Errorf("body %q, want it to contain %q", w.Body, tc.wantText)
					}
					if strings.Contains(w.Body.String(), testSecret) {
						t.Errorf("body %q echoes the secret", w.Body)
					}
					gotSink, gotObs := tc.rec.take()
					var wantSink []sunk
					if tc.wantSink {
						wantSink = []sunk{{typ, sampleEvents(t, typ)}}
					}
					if diff := cmp.Diff(wantSink, gotSink); diff != "" {
						t.Errorf("sink (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff([]observation{{typ, tc.want}}, gotObs); diff != "" {
						t.Errorf("observer (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestHandlerSharedSecretForms: Authorization "Bearer <s>" (any case of
// the scheme), the raw value (Harbor's auth_header, EventBridge API keys)
// and ?secret= are all accepted; anything else is not.
func TestHandlerSharedSecretForms(t *testing.T) {
	body := readTestdata(t, TypeQuay, "repository-push.json")
	h, rec := newTestHandler(t, WithSecret(TypeQuay, staticSecret(testSecret)))
	withAuth := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Authorization", v) } }
	tests := []struct {
		name  string
		query string
		set   func(*http.Request)
		want  int
	}{
		{"bearer", "", withAuth("Bearer " + testSecret), 202},
		{"bearer lower case", "", withAuth("bearer " + testSecret), 202},
		{"raw header", "", withAuth(testSecret), 202},
		{"query", "&secret=s3cr3t-Value_that%2Fnever%2Bleaks", func(*http.Request) {}, 202},
		{"query not escaped", "&secret=" + testSecret, func(*http.Request) {}, 401}, // '+' reads as a space
		{"wrong header, right query", "&secret=" + "s3cr3t-Value_that%2Fnever%2Bleaks", withAuth("Bearer nope"), 202},
		{"basic", "", withAuth("Basic " + testSecret), 401},
		{"prefix", "", withAuth("Bearer " + testSecret[:10]), 401},
		{"longer", "", withAuth("Bearer " + testSecret + "x"), 401},
		{"empty bearer", "", withAuth("Bearer "), 401},
		{"query lookalike", "&Secret=" + testSecret, func(*http.Request) {}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", Path+"?type=quay"+tc.query, bytes.NewReader(body))
			tc.set(r)
			w := serve(h, r)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d (%q)", w.Code, tc.want, w.Body)
			}
			sunk, _ := rec.take()
			if (len(sunk) == 1) != (tc.want == 202) {
				t.Errorf("sink got %v with status %d", sunk, w.Code)
			}
		})
	}
}

// TestHandlerSignatureIsOverRawBody: the signature covers the exact bytes;
// the same JSON re-spaced, or a body signed with another secret, is
// refused.
func TestHandlerSignatureIsOverRawBody(t *testing.T) {
	body := []byte(`{"image": "registry.example.com/team/app", "tag": "1.4.0"}`)
	h, rec := newTestHandler(t, WithSecret(TypeGeneric, staticSecret(testSecret)))
	tests := []struct {
		name, sig string
		want      int
		wantText  string
	}{
		{"right", Sign(testSecret, body), 202, "accepted"},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(Sign(testSecret, body), "sha256=")), 202, "accepted"},
		{"other body", Sign(testSecret, bytes.ReplaceAll(body, []byte(": "), []byte(":"))), 401, "signature does not match the body"},
		{"other secret", Sign("other", body), 401, "signature does not match"},
		{"no prefix", strings.TrimPrefix(Sign(testSecret, body), "sha256="), 401, `must be "sha256=<hex>"`},
		{"sha1", "sha1=" + strings.Repeat("0", 40), 401, `must be "sha256=<hex>"`},
		{"not hex", "sha256=zz", 401, `must be "sha256=<hex>"`},
		{"truncated", Sign(testSecret, body)[:21], 401, "signature does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", Path+"?type=generic", bytes.NewReader(body))
			r.Header.Set("X-Tagwatch-Signature", tc.sig)
			w := serve(h, r)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantText) {
				t.Errorf("got %d %q, want %d and %q", w.Code, w.Body, tc.want, tc.wantText)
			}
			sunk, _ := rec.take()
			if (len(sunk) == 1) != (tc.want == 202) {
				t.Errorf("sink got %v with status %d", sunk, w.Code)
			}
		})
	}
	// A shared secret in Authorization is no substitute for a signature.
	r := httptest.NewRequest("POST", Path+"?type=generic&secret="+testSecret, bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+testSecret)
	if w := serve(h, r); w.Code != 401 {
		t.Errorf("generic with a bearer secret: status %d, want 401", w.Code)
	}
}

// TestHandlerSecretReadPerRequest: the secret is read on every request, so
// a rotation applies at once; an unreadable or empty secret refuses with
// 503 and never leaks the reason's details.
func TestHandlerSecretReadPerRequest(t *testing.T) {
	var mu sync.Mutex
	current, failure := "first", error(nil)
	secret := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return current, failure
	}
	set := func(s string, err error) { mu.Lock(); current, failure = s, err; mu.Unlock() }
	h, rec := newTestHandler(t, WithSecret(TypeHarbor, secret))
	body := readTestdata(t, TypeHarbor, "push-artifact.json")
	post := func(secret string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", Path+"?type=harbor", bytes.NewReader(body))
		r.Header.Set("Authorization", secret)
		return serve(h, r)
	}
	if w := post("first"); w.Code != 202 {
		t.Fatalf("before rotation: %d %q", w.Code, w.Body)
	}
	set("second", nil)
	if w := post("first"); w.Code != 401 {
		t.Errorf("old secret after rotation: %d, want 401", w.Code)
	}
	if w := post("second"); w.Code != 202 {
		t.Errorf("new secret after rotation: %d, want 202", w.Code)
	}
	set("", errors.New("open /run/secrets/harbor: permission denied"))
	w := post("second")
	if w.Code != 503 || strings.Contains(w.Body.String(), "/run/secrets") {
		t.Errorf("unreadable secret: %d %q, want 503 without the cause", w.Code, w.Body)
	}
	set("", nil)
	if w := post(""); w.Code != 503 {
		t.Errorf("empty secret: %d %q, want 503", w.Code, w.Body)
	}
	_, obs := rec.take()
	want := []observation{{"harbor", ResultAccepted}, {"harbor", ResultUnauthorized}, {"harbor", ResultAccepted}, {"harbor", ResultUnauthorized}, {"harbor", ResultUnauthorized}}
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("observer (-want +got):\n%s", diff)
	}
}

// TestHandlerInsecureKeepsConfiguredSecrets: insecureWebhooks opens the
// types without a secret, not those with one.
func TestHandlerInsecureKeepsConfiguredSecrets(t *testing.T) {
	h, _ := newTestHandler(t, WithInsecure(true), WithSecret(TypeGitHub, staticSecret(testSecret)))
	body := readTestdata(t, TypeGitHub, "package-published.json")
	if w := serve(h, request(TypeGitHub, "POST", body, ghEvent("package"), anonymously)); w.Code != 401 {
		t.Errorf("configured type, unsigned, insecure handler: %d, want 401", w.Code)
	}
	body = readTestdata(t, TypeGeneric, "push.json")
	if w := serve(h, request(TypeGeneric, "POST", body, nil, anonymously)); w.Code != 202 {
		t.Errorf("unconfigured type, insecure handler: %d, want 202", w.Code)
	}
}

func TestHandlerUnknownType(t *testing.T) {
	h, rec := newTestHandler(t, WithInsecure(true))
	for _, target := range []string{Path, Path + "?type=gitlab", Path + "?type=" + strings.Repeat("x", 500)} {
		w := serve(h, httptest.NewRequest("POST", target, strings.NewReader(`{}`)))
		if w.Code != 404 || !strings.Contains(w.Body.String(), "must be one of cloudevents, distribution, dockerhub, generic, github, harbor, quay") {
			t.Errorf("%s: %d %q", target, w.Code, w.Body)
		}
		if len(w.Body.String()) > 300 {
			t.Errorf("%s: body of %d bytes echoes the type unbounded", target, w.Body.Len())
		}
	}
	sunk, obs := rec.take()
	if len(sunk) != 0 {
		t.Errorf("sink got %v", sunk)
	}
	want := []observation{{UnknownType, ResultInvalid}, {UnknownType, ResultInvalid}, {UnknownType, ResultInvalid}}
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("observer (-want +got):\n%s", diff)
	}
}

// TestHandlerBodyLimit: exactly MaxBodyBytes is read; one byte more is
// refused, with or without a Content-Length, and reading stops there.
func TestHandlerBodyLimit(t *testing.T) {
	h, rec := newTestHandler(t, WithSecret(TypeGeneric, staticSecret(testSecret)))
	json := []byte(`{"image": "registry.example.com/team/app", "tag": "1.4.0"}`)
	exact := append(json, bytes.Repeat([]byte(" "), MaxBodyBytes-len(json))...)
	if w := serve(h, request(TypeGeneric, "POST", exact, nil, rightly)); w.Code != 202 {
		t.Errorf("body of exactly %d bytes: %d %q", MaxBodyBytes, w.Code, w.Body)
	}

	over := append(exact, ' ')
	r := request(TypeGeneric, "POST", over, nil, rightly)
	counted := &countingReader{r: bytes.NewReader(over)}
	r.Body, r.ContentLength = io.NopCloser(counted), -1 // chunked: no Content-Length to trust
	if w := serve(h, r); w.Code != 413 {
		t.Errorf("chunked body of %d bytes: %d %q", len(over), w.Code, w.Body)
	}
	if counted.n > MaxBodyBytes+1 {
		t.Errorf("read %d bytes of the body, want at most %d", counted.n, MaxBodyBytes+1)
	}

	// A declared Content-Length over the cap is refused before reading.
	r = request(TypeGeneric, "POST", over, nil, rightly)
	counted = &countingReader{r: bytes.NewReader(over)}
	r.Body = io.NopCloser(counted)
	if w := serve(h, r); w.Code != 413 || counted.n != 0 {
		t.Errorf("Content-Length %d: status %d after reading %d bytes, want 413 after none", r.ContentLength, w.Code, counted.n)
	}
	sunk, _ := rec.take()
	if len(sunk) != 1 {
		t.Errorf("sink got %d deliveries, want 1 (the exact-size body)", len(sunk))
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestHandlerNoEvents: an authenticated payload that carries no event
// (a pull, a ping) is accepted and the sink is not called.
func TestHandlerNoEvents(t *testing.T) {
	h, rec := newTestHandler(t, WithSecret(TypeDistribution, staticSecret(testSecret)))
	w := serve(h, request(TypeDistribution, "POST", readTestdata(t, TypeDistribution, "no-push.json"), nil, rightly))
	if w.Code != 202 || !strings.Contains(w.Body.String(), "accepted: 0 event(s)") {
		t.Errorf("%d %q", w.Code, w.Body)
	}
	if sunk, obs := rec.take(); len(sunk) != 0 || len(obs) != 1 || obs[0].Result != ResultAccepted {
		t.Errorf("sink %v, observer %v", sunk, obs)
	}
}

func TestNewHandlerValidates(t *testing.T) {
	noop := func(string, []Event) {}
	tests := []struct {
		name    string
		sink    Sink
		opts    []Option
		wantErr string
	}{
		{"nil sink", nil, nil, "nil sink"},
		{"unknown type", noop, []Option{WithSecret("gitlab", staticSecret("x"))}, `webhook type "gitlab": must be one of`},
		{"nil secret", noop, []Option{WithSecret(TypeQuay, nil)}, `webhook type "quay": nil secret`},
		{"twice", noop, []Option{WithSecret(TypeQuay, staticSecret("a")), WithSecret(TypeQuay, staticSecret("b"))}, "secret given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHandler(tc.sink, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	// A nil observer is allowed (nobody counts).
	h, err := NewHandler(noop, WithObserver(nil), WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h, request(TypeGeneric, "POST", []byte(`{"image":"a/b"}`), nil, anonymously)); w.Code != 202 {
		t.Errorf("%d %q", w.Code, w.Body)
	}
}
