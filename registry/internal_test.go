package registry

import (
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

// TestLinkFix: same-origin Links get the scheme ggcr's check expects;
// anything else is left for ggcr to judge.
func TestLinkFix(t *testing.T) {
	for _, tc := range []struct {
		req, link, want string
	}{
		{"https://127.0.0.1:5000/v2/a/tags/list?n=2", `</v2/a/tags/list?n=2&last=b>; rel="next"`, `<http://127.0.0.1:5000/v2/a/tags/list?n=2&last=b>; rel="next"`},
		{"https://10.1.2.3/v2/a/tags/list", `<https://10.1.2.3/v2/a/tags/list?last=b>; rel="next"`, `<http://10.1.2.3/v2/a/tags/list?last=b>; rel="next"`},
		{"https://192.168.1.9:443/v2/a/tags/list", `<?last=b>`, `<http://192.168.1.9:443/v2/a/tags/list?last=b>`},
		// Public host: ggcr's expected scheme is https already.
		{"https://r.example.com/v2/a/tags/list", `</v2/a/tags/list?last=b>; rel="next"`, `</v2/a/tags/list?last=b>; rel="next"`},
		// Another host: untouched, ggcr refuses it.
		{"https://127.0.0.1:5000/v2/a/tags/list", `<https://evil.example.com/v2/a/tags/list?last=b>; rel="next"`, `<https://evil.example.com/v2/a/tags/list?last=b>; rel="next"`},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<https://127.0.0.1:5001/v2/a/tags/list?last=b>`, `<https://127.0.0.1:5001/v2/a/tags/list?last=b>`},
		// Plain HTTP to loopback: already what ggcr expects.
		{"http://127.0.0.1:5000/v2/a/tags/list", `</v2/a/tags/list?last=b>`, `</v2/a/tags/list?last=b>`},
		// Malformed: untouched.
		{"https://127.0.0.1:5000/v2/a/tags/list", `/v2/a/tags/list?last=b`, `/v2/a/tags/list?last=b`},
		{"https://127.0.0.1:5000/v2/a/tags/list", `<%zz>`, `<%zz>`},
	} {
		got := fixLink(t, tc.req, tc.link)
		if got != tc.want {
			t.Errorf("request %s, Link %s:\n got %s\nwant %s", tc.req, tc.link, got, tc.want)
		}
	}
}

func fixLink(t testing.TB, reqURL, link string) string {
	u, err := url.Parse(reqURL)
	if err != nil {
		t.Fatal(err)
	}
	rt := &linkFixTransport{next: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Link": {link}}, Request: req}, nil
	})}
	resp, err := rt.RoundTrip(&http.Request{Method: "GET", URL: u, Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("Link")
}

func FuzzLinkFix(f *testing.F) {
	f.Add(`</v2/a/tags/list?n=2&last=b>; rel="next"`)
	f.Add(`<https://evil.example.com/x>`)
	f.Add(`<>`)
	f.Fuzz(func(t *testing.T, link string) {
		got := fixLink(t, "https://127.0.0.1:5000/v2/a/tags/list", link)
		if got == link {
			return
		}
		// A rewrite only ever changes the scheme of a same-host link.
		end := strings.IndexByte(got, '>')
		u, err := url.Parse(got[1:end])
		if err != nil || u.Host != "127.0.0.1:5000" || u.Scheme != "http" {
			t.Errorf("Link %q rewritten to %q", link, got)
		}
	})
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
// request to that host, not only the retried one (capped by WithMaxRetryAfter).
func TestRetryAfterHoldsHost(t *testing.T) {
	c, err := New(WithMaxRetryAfter(90 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pt := &politeTransport{c: c, next: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: http.NoBody, Request: req}, nil
	})}
	req, _ := http.NewRequest("GET", "https://r.example.com/v2/", nil)
	before := time.Now()
	if _, err := pt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	g := c.gate("r.example.com")
	g.mu.Lock()
	hold := g.notBefore.Sub(before)
	g.mu.Unlock()
	if hold < 89*time.Second || hold > 91*time.Second {
		t.Errorf("host held for %v, want the 90s cap", hold)
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
