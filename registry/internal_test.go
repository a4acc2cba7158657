package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
)

func TestMatch(t *testing.T) {
	hosts := []Host{
		{Prefix: "r.example.com", RateLimit: 1},
		{Prefix: "r.example.com/team", RateLimit: 2},
		{Prefix: "r.example.com/team/app", RateLimit: 3},
		{Prefix: "index.docker.io", RateLimit: 4},
	}
	for _, tc := range []struct {
		ref  string
		want float64
	}{
		{"r.example.com", 1},
		{"r.example.com/other", 1},
		{"r.example.com/team", 2},
		{"r.example.com/team/app", 3},
		{"r.example.com/team/application", 2},
		{"r.example.com/teams/app", 1},
		{"r.example.com.evil/team", 0},
		{"r.example.co", 0},
		{"index.docker.io/library/nginx", 4},
	} {
		if got := match(hosts, tc.ref).RateLimit; got != tc.want {
			t.Errorf("match(%q) = host with rate %v, want %v", tc.ref, got, tc.want)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io":            "index.docker.io",
		"docker.io/library":    "index.docker.io/library",
		"r.example.com/team/":  "r.example.com/team",
		" r.example.com:5000 ": "r.example.com:5000",
	} {
		if got := normalizePrefix(in); got != want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 3 ", 3 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second, true},
		{"Wed, 31 Dec 2025 23:59:00 GMT", 0, true},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "Thu, 01 Jan 2026 00:00:30 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := retryAfter(s, time.Now()); ok && d < 0 {
			t.Errorf("retryAfter(%q) = %v: negative", s, d)
		}
	})
}

// TestNextLink: a Link resolves against the page that carried it and must
// keep its origin; anything else is refused.
func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		page, link, want, wantErr string
	}{
		{"https://127.0.0.1:5000/v2/a/tags/list?n=2", `</v2/a/tags/list?n=2&last=b>; rel="next"`, "https://127.0.0.1:5000/v2/a/tags/list?n=2&last=b", ""},
		{"https://10.1.2.3/v2/a/tags/list", `<https://10.1.2.3/v2/a/tags/list?last=b>; rel="next"`, "https://10.1.2.3/v2/a/tags/list?last=b", ""},
		{"https://192.168.1.9:443/v2/a/tags/list", `<?last=b>`, "https://192.168.1.9:443/v2/a/tags/list?last=b", ""},
		{"http://127.0.0.1:5000/v2/a/tags/list", `</v2/a/tags/list?last=b>`, "http://127.0.0.1:5000/v2/a/tags/list?last=b", ""},
		{"https://r.example.com/v2/a/tags/list", "", "", ""},
		{"https://r.example.com/v2/a/tags/list", "<>", "", ""},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<https://evil.example.com/v2/a/tags/list?last=b>; rel="next"`, "", "does not match registry"},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<https://127.0.0.1:5001/v2/a/tags/list?last=b>`, "", "does not match registry"},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<//127.0.0.2:5000/v2/a/tags/list>`, "", "does not match registry"},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<http://127.0.0.1:5000/v2/a/tags/list?last=b>`, "", "does not match registry"},
		{"https://127.0.0.1:5000/v2/a/tags/list", `/v2/a/tags/list?last=b`, "", "malformed Link"},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<%zz>`, "", "Link header"},
	} {
		page, err := url.Parse(tc.page)
		if err != nil {
			t.Fatal(err)
		}
		got, err := nextLink(tc.link, page)
		gotS := ""
		if got != nil {
			gotS = got.String()
		}
		if gotS != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("page %s, Link %s: got %q, %v; want %q, %q", tc.page, tc.link, gotS, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`</v2/a/tags/list?n=2&last=b>; rel="next"`)
	f.Add(`<https://evil.example.com/x>`)
	f.Add(`<>`)
	page, _ := url.Parse("https://127.0.0.1:5000/v2/a/tags/list")
	f.Fuzz(func(t *testing.T, link string) {
		u, err := nextLink(link, page)
		if err == nil && u != nil && (u.Scheme != page.Scheme || u.Host != page.Host) {
			t.Errorf("Link %q followed to %s", link, u)
		}
	})
}

func TestDecodeTags(t *testing.T) {
	errStop := errors.New("stop")
	for _, tc := range []struct {
		name, doc string
		stopAt    int // add fails at this many tags (0: never)
		want      []string
		wantErr   string
	}{
		{name: "tags", doc: `{"name":"a","tags":["1","2"]}`, want: []string{"1", "2"}},
		{name: "members around", doc: `{"x":{"y":[1,{}]},"tags":["1"],"name":"a"}`, want: []string{"1"}},
		{name: "null tags", doc: `{"name":"a","tags":null}`},
		{name: "no tags", doc: `{"name":"a"}`},
		{name: "empty", doc: `{"tags":[]}`},
		{name: "cut short", doc: `{"name":"a","tags":["1","2`, want: []string{"1"}, wantErr: "unexpected EOF"},
		{name: "cut after a tag", doc: `{"name":"a","tags":["1",`, want: []string{"1"}, wantErr: "unexpected EOF"},
		{name: "cut before the end", doc: `{"name":"a","tags":["1"]`, want: []string{"1"}, wantErr: "unexpected EOF"},
		{name: "empty body", doc: ``, wantErr: "unexpected EOF"},
		{name: "array", doc: `["1"]`, wantErr: "not a JSON object"},
		{name: "tags not an array", doc: `{"tags":"1"}`, wantErr: "not an array"},
		{name: "null tag", doc: `{"tags":["1",null]}`, want: []string{"1"}, wantErr: "null among"},
		{name: "number tag", doc: `{"tags":[1]}`, wantErr: "cannot unmarshal"},
		{name: "two tags members", doc: `{"tags":["1"],"tags":["2"]}`, want: []string{"1"}, wantErr: "two"},
		{name: "stops at the bound", doc: `{"tags":["1","2","3","4"]}`, stopAt: 2, want: []string{"1", "2"}, wantErr: "stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string // what add saw; on an error the caller drops it
			n, err := decodeTags(strings.NewReader(tc.doc), func(tag string) error {
				if tc.stopAt > 0 && len(got) == tc.stopAt {
					return errStop
				}
				got = append(got, tag)
				return nil
			})
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if err == nil && n != len(got) {
				t.Errorf("n = %d, want %d", n, len(got))
			}
		})
	}
}

func FuzzDecodeTags(f *testing.F) {
	f.Add(`{"name":"a","tags":["1","2"]}`)
	f.Add(`{"tags":null}`)
	f.Add(`{"x":[{"tags":[]}],"tags":["\u0000"]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		added := 0
		n, err := decodeTags(strings.NewReader(doc), func(string) error { added++; return nil })
		if err == nil && n != added {
			t.Errorf("%q: n = %d, %d tags added", doc, n, added)
		}
	})
}

// TestPlainHTTPAllowed proves the scheme rule of DESIGN.md §4b as a pure
// function: tests send traffic to 127.0.0.1 only, so the private ranges
// are covered here.
func TestPlainHTTPAllowed(t *testing.T) {
	for _, tc := range []struct {
		host            string
		insecure, creds bool
		want            bool
	}{
		{host: "127.0.0.1:5000", want: true},
		{host: "127.0.0.1:5000", creds: true, want: false},
		{host: "127.0.0.1:5000", insecure: true, creds: true, want: true},
		{host: "127.45.6.7", want: true},
		{host: "localhost:5000", want: true},
		{host: "LOCALHOST", want: true},
		{host: "localhost:5000", creds: true, want: false},
		{host: "[::1]:5000", want: true},
		{host: "::1", want: true},
		// go-containerregistry alone falls back to plain HTTP for these.
		{host: "10.1.2.3:5000", want: false},
		{host: "172.16.0.1", want: false},
		{host: "172.31.255.254:443", want: false},
		{host: "192.168.1.10:5000", want: false},
		{host: "registry.local:5000", want: false},
		{host: "app.localhost:5000", want: false},
		{host: "localhost.example.com", want: false},
		{host: "128.0.0.1", want: false},
		{host: "registry.example.com", want: false},
		{host: "10.1.2.3:5000", insecure: true, creds: true, want: true},
		{host: "registry.example.com", insecure: true, want: true},
	} {
		if got := plainHTTPAllowed(tc.host, tc.insecure, tc.creds); got != tc.want {
			t.Errorf("plainHTTPAllowed(%q, insecure=%v, credentials=%v) = %v, want %v", tc.host, tc.insecure, tc.creds, got, tc.want)
		}
	}
}

// TestSchemeGuard: the guard refuses before anything goes out, and says
// how to allow it; insecure applies to the registry of the entry only.
func TestSchemeGuard(t *testing.T) {
	sent := 0
	next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	for _, tc := range []struct {
		url, auth, insecureHost string
		wantErr                 bool
	}{
		{url: "http://10.0.0.5:5000/v2/", wantErr: true},
		{url: "https://10.0.0.5:5000/v2/"},
		{url: "http://10.0.0.5:5000/v2/", insecureHost: "10.0.0.5:5000"},
		{url: "http://10.0.0.6:5000/token", auth: "Basic dTpw", insecureHost: "10.0.0.5:5000", wantErr: true},
		{url: "http://127.0.0.1:5000/v2/"},
		{url: "http://127.0.0.1:5000/v2/a/tags/list", auth: "Basic dTpw", wantErr: true},
		{url: "http://127.0.0.1:5000/v2/a/tags/list", auth: "Bearer tok", wantErr: true},
		{url: "http://u:p@127.0.0.1:5000/v2/", wantErr: true},
	} {
		sent = 0
		req, err := http.NewRequest("GET", tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		_, err = (&schemeGuard{insecureHost: tc.insecureHost, next: next}).RoundTrip(req)
		if tc.wantErr {
			if !errors.Is(err, ErrPlainHTTP) || !strings.Contains(err.Error(), "insecure: true") || sent != 0 {
				t.Errorf("%s (auth %q): err = %v, %d sent; want ErrPlainHTTP saying how to allow it, nothing sent", tc.url, tc.auth, err, sent)
			}
		} else if err != nil || sent != 1 {
			t.Errorf("%s (auth %q): err = %v, %d sent; want it sent", tc.url, tc.auth, err, sent)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGates(t *testing.T) {
	c, err := New(WithHosts(Host{Prefix: "slow.example.com", RateLimit: 2}, Host{Prefix: "slow.example.com/team", RateLimit: 50}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]rate.Limit{}
	for _, h := range []string{"slow.example.com", "fast.example.com"} {
		got[h] = c.gate(h).lim.Limit()
	}
	want := map[string]rate.Limit{"slow.example.com": 2, "fast.example.com": DefaultRateLimit}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rate per host (-want +got):\n%s", diff)
	}
	if first, again := c.gate("slow.example.com"), c.gate("slow.example.com"); first != again {
		t.Error("gate not shared per host")
	}
}

// TestRetryAfterHoldsHost: a 429 with Retry-After holds back every later
// request to that host, not only the retried one. One longer than
// WithMaxRetryAfter is not waited for: requests fail at once with
// ErrRateLimited, in this process and, through the cache directory, in the
// next one (a CronJob running `run --once` every minute).
func TestRetryAfterHoldsHost(t *testing.T) {
	cache := t.TempDir()
	sent := 0
	next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"600"}}, Body: http.NoBody, Request: req}, nil
	})
	newTransport := func() *politeTransport {
		c, err := New(WithMaxRetryAfter(90*time.Second), WithCacheDir(cache))
		if err != nil {
			t.Fatal(err)
		}
		return &politeTransport{c: c, next: next}
	}
	req, _ := http.NewRequest("GET", "https://r.example.com/v2/", nil)
	pt := newTransport()
	before := time.Now()
	if _, err := pt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	g := pt.c.gate("r.example.com")
	g.mu.Lock()
	hold := g.notBefore.Sub(before)
	g.mu.Unlock()
	if hold < 599*time.Second || hold > 601*time.Second {
		t.Errorf("host held for %v, want the 600s asked", hold)
	}
	for name, pt := range map[string]*politeTransport{"same process": pt, "next process": newTransport()} {
		sent = 0
		if _, err := pt.RoundTrip(req); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "r.example.com") || sent != 0 {
			t.Errorf("%s: err = %v, %d sent; want ErrRateLimited at once", name, err, sent)
		}
	}
	other, _ := http.NewRequest("GET", "https://other.example.com/v2/", nil)
	if _, err := newTransport().RoundTrip(other); err != nil || sent != 1 {
		t.Errorf("another host: err = %v, %d sent", err, sent)
	}
}

// TestRetryAfterBounded: an absurd Retry-After holds a host a day at most,
// also when it comes from a cache file.
func TestRetryAfterBounded(t *testing.T) {
	cache := t.TempDir()
	c, err := New(WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cache.storeHold("r.example.com", time.Now().Add(1000*time.Hour)); err != nil {
		t.Fatal(err)
	}
	nb, ok := c.cache.hold("r.example.com")
	if !ok || time.Until(nb) > maxHold {
		t.Errorf("hold = %v, %v; want at most %v", nb, ok, maxHold)
	}
	if _, ok := c.cache.hold("s.example.com"); ok {
		t.Error("a hold for a host never held")
	}
	if err := c.cache.storeHold("r.example.com", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.cache.hold("r.example.com"); ok {
		t.Error("a hold that passed still holds")
	}
}

func TestCredentialsNeverInErrors(t *testing.T) {
	const secret = "hunter2-no-colon"
	t.Setenv("TAGWATCH_TEST_CRED", secret)
	_, err := credentialsRef{env: "TAGWATCH_TEST_CRED"}.Authorization()
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkDecodeTags streams one page of 1,000 tags; BenchmarkUnmarshalTags
// is what reading it whole costs (go-containerregistry's way), for scale.
func BenchmarkDecodeTags(b *testing.B) {
	page := tagPage(1000)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := decodeTags(strings.NewReader(page), func(string) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkUnmarshalTags(b *testing.B) {
	page := tagPage(1000)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		var doc struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.NewDecoder(strings.NewReader(page)).Decode(&doc); err != nil || len(doc.Tags) != 1000 {
			b.Fatal(err)
		}
	}
}

func tagPage(n int) string {
	var sb strings.Builder
	sb.WriteString(`{"name":"team/app","tags":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"1.%d.%d"`, i/10, i%10)
	}
	sb.WriteString("]}")
	return sb.String()
}

func TestKnownListing(t *testing.T) {
	for host, paged := range map[string]bool{
		"index.docker.io":                                  true,
		"registry-1.docker.io":                             true,
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com":     true,
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn": true,
		"public.ecr.aws":                                   true,
		"ghcr.io":                                          false,
		"quay.io":                                          false,
		"registry.example.com:5000":                        false,
		"evil.amazonaws.com.example":                       false,
		"dkr.ecr.amazonaws.com.evil.io":                    false,
	} {
		l, known := knownListing(host)
		if known != paged || l.Paged != paged || l.Links != paged {
			t.Errorf("knownListing(%q) = %+v, %v; want paged %v", host, l, known, paged)
		}
	}
}
