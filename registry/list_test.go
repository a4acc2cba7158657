package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newClient returns a Client for srv, with fast retries and an empty keychain.
func newClient(t testing.TB, tg *testreg.Target, opts ...registry.Option) *registry.Client {
	t.Helper()
	base := []registry.Option{
		registry.WithHosts(registry.Host{Prefix: tg.Prefix(), CAFile: tg.CAFile, RateLimit: 1000}),
		registry.WithRetry(3, time.Millisecond),
		registry.WithKeychain(emptyKeychain{}),
	}
	c, err := registry.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tagNames(prefix string, n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return tags
}

// seed pushes one image under tags of repo on srv.
func seed(t testing.TB, srv *testreg.Server, repo string, tags []string) string {
	t.Helper()
	d := srv.PushImage(t, repo, created, tags[0])
	if len(tags) > 1 {
		srv.Tag(t, repo, tags[0], tags[1:]...)
	}
	return d
}

func TestListTagsPagination(t *testing.T) {
	for _, tc := range []struct {
		name             string
		tags, page, askN int
		wantListRequests int
		repeat           bool // testreg.Options.RepeatLastPage
	}{
		{name: "one page", tags: 5, page: 10, askN: 100, wantListRequests: 1},
		{name: "pages", tags: 50, page: 7, askN: 100, wantListRequests: 8},
		// 49 = 7 pages of 7: the last page is full, so it carries a Link;
		// following it, ggcr's registry answers the first page again.
		// The walk must stop there instead of looping.
		{name: "repeated page at the end", tags: 49, page: 7, askN: 100, repeat: true, wantListRequests: 8},
		{name: "full last page", tags: 49, page: 7, askN: 100, wantListRequests: 7},
		{name: "client page smaller", tags: 50, page: 100, askN: 20, wantListRequests: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testreg.Start(t, testreg.Options{PageSize: tc.page, RepeatLastPage: tc.repeat})
			want := tagNames("v", tc.tags)
			seed(t, srv, "team/app", want)
			srv.ResetCounts()
			c := newClient(t, srv.Target, registry.WithPageSize(tc.askN))
			got, err := c.ListTags(context.Background(), srv.Repo("team/app"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if n := srv.Count("GET", "/tags/list"); n != tc.wantListRequests {
				t.Errorf("list requests = %d, want %d: %q", n, tc.wantListRequests, srv.Requests())
			}
			if st := c.Stats(); st.List != tc.wantListRequests {
				t.Errorf("Stats().List = %d, want %d", st.List, tc.wantListRequests)
			}
		})
	}
}

// TestListTagsTLSPrivateAddress pins the go-containerregistry v0.22.1 bug
// (pagination over TLS to a loopback/private address fails its SSRF check
// with a scheme mismatch) and shows that our client lists every page.
func TestListTagsTLSPrivateAddress(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{TLS: true, PageSize: 10})
	want := tagNames("1.0.", 25)
	seed(t, srv, "team/app", want)

	repo, err := name.NewRepository(srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.List(repo, append(srv.RemoteOptions(), remote.WithPageSize(10))...)
	if err == nil || !strings.Contains(err.Error(), `pagination URL scheme "https" does not match registry scheme "http"`) {
		t.Logf("plain ggcr no longer fails (err = %v); the workaround in linkFixTransport may be removable", err)
	}

	c := newClient(t, srv.Target, registry.WithPageSize(10))
	got, err := c.ListTags(context.Background(), srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

func TestListTagsLinkToAnotherHostIsRefused(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			srv := testreg.Start(t, testreg.Options{TLS: tls})
			seed(t, srv, "team/app", []string{"a", "b"})
			for _, link := range []string{
				`<https://evil.example.com/v2/team/app/tags/list?last=b>; rel="next"`,
				`<//127.0.0.2:1/v2/team/app/tags/list?last=b>; rel="next"`,
			} {
				srv.Inject(testreg.Fault{Method: "GET", Path: "/tags/list", Link: link})
				c := newClient(t, srv.Target)
				_, err := c.ListTags(context.Background(), srv.Repo("team/app"))
				if err == nil || !strings.Contains(err.Error(), "does not match registry") {
					t.Errorf("Link %s: err = %v, want a refusal", link, err)
				}
			}
		})
	}
}

func TestListTagsBounds(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{PageSize: 5})
	seed(t, srv, "team/app", tagNames("t", 30))
	for _, tc := range []struct {
		name string
		opt  registry.Option
	}{
		{"max pages", registry.WithMaxPages(3)},
		{"max tags", registry.WithMaxTags(12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, srv.Target, tc.opt)
			_, err := c.ListTags(context.Background(), srv.Repo("team/app"))
			if !errors.Is(err, registry.ErrTooManyTags) || !strings.Contains(err.Error(), srv.Repo("team/app")) {
				t.Errorf("err = %v, want ErrTooManyTags naming the repository", err)
			}
		})
	}
}

// TestListTagsEndlessLinks: a registry whose Link always points to a fresh
// page must not hang us.
func TestListTagsEndlessLinks(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{PageSize: 1})
	seed(t, srv, "team/app", tagNames("t", 3))
	c := newClient(t, srv.Target, registry.WithMaxPages(50))
	// Every page links to the next one; after the third the registry
	// answers the first again, so a naive walk never ends.
	for range 200 {
		srv.Inject(testreg.Fault{Method: "GET", Path: "/tags/list", Link: `</v2/team/app/tags/list?n=1&last=zz>; rel="next"`})
	}
	got, err := c.ListTags(context.Background(), srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tagNames("t", 3), got); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

// TestListTagsShared: concurrent callers share one walk; the Client
// remembers nothing after it (a cycle's memo is the caller's, see
// internal/resolve.Memo).
func TestListTagsShared(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{Latency: 20 * time.Millisecond})
	seed(t, srv, "team/app", []string{"1.0.0", "1.1.0"})
	srv.ResetCounts()
	c := newClient(t, srv.Target)
	ctx := context.Background()
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			tags, err := c.ListTags(ctx, srv.Repo("team/app"))
			if err == nil && !slices.Equal(tags, []string{"1.0.0", "1.1.0"}) {
				err = fmt.Errorf("tags = %q", tags)
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Count("GET", "/tags/list"); n != 1 {
		t.Errorf("20 concurrent callers made %d list requests, want 1", n)
	}
	if _, err := c.ListTags(ctx, srv.Repo("team/app")); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("GET", "/tags/list"); n != 2 {
		t.Errorf("a later caller: %d list requests, want 2", n)
	}
}

// TestListTags100k: a repository with 100,000 tags, in pages of 10,000.
func TestListTags100k(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 tags")
	}
	srv := testreg.Start(t, testreg.Options{PageSize: 10000})
	want := make([]string, 100000)
	for i := range want {
		want[i] = fmt.Sprintf("1.%05d.0", i)
	}
	seed(t, srv, "team/app", want)
	c := newClient(t, srv.Target, registry.WithPageSize(10000))
	got, err := c.ListTags(context.Background(), srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

// TestListTagsWithoutLinks: a registry that honours ?n= but never sends
// Link (ggcr's pkg/registry) is read to the end by probing after full pages.
func TestListTagsWithoutLinks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls        bool
		ignoreLast bool
		tags       int
		fault      *testreg.Fault
		want       int // tags listed
		wantLists  int
	}{
		{name: "partial last page", tags: 25, want: 25, wantLists: 3},
		// 10, 10, then the probe answers the first page again: the
		// whole list tells whether that was the end.
		{name: "full last page", tags: 20, want: 20, wantLists: 4},
		// The probe is answered with the first page: the whole list.
		{name: "last ignored", ignoreLast: true, tags: 25, want: 25, wantLists: 3},
		{name: "over TLS on loopback", tls: true, tags: 25, want: 25, wantLists: 3},
		// 30 tags answered 10 at a time: three full pages, the probe
		// answered with the first again, then the whole list.
		{name: "exact pages", tags: 30, want: 30, wantLists: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testreg.Start(t, testreg.Options{NoLink: true, TLS: tc.tls, IgnoreLast: tc.ignoreLast})
			seed(t, srv, "team/app", tagNames("t", tc.tags))
			srv.ResetCounts()
			if tc.fault != nil {
				srv.Inject(*tc.fault)
			}
			got, err := newClient(t, srv.Target, registry.WithPageSize(10)).ListTags(context.Background(), srv.Repo("team/app"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tagNames("t", tc.want), got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if n := srv.Count("GET", "/tags/list"); n != tc.wantLists {
				t.Errorf("%d list requests, want %d: %q", n, tc.wantLists, srv.Requests())
			}
		})
	}
}

// semverTags are the 2,500 tags of the fault-injection scenario of issue
// 14: 1.0.0 … 3.49.9. The first page of 1,000, in the registry's lexical
// order, ends at 1.99.9; the complete list's greatest is 3.49.9.
func semverTags() []string {
	var tags []string
	for i := range 2500 {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", 1+i/1000, i/10%100, i%10))
	}
	slices.Sort(tags)
	return tags
}

// TestListTagsNeverPartial pins issue 14's first point: on a registry that
// honours ?n= but sends no Link, a failing `?last=` request used to end the
// walk and the first 1,000 tags were taken as the whole list. Whatever
// fails after the first page, the list fails with ErrIncompleteList.
func TestListTagsNeverPartial(t *testing.T) {
	want := semverTags()
	for _, walk := range []struct {
		name string
		opts testreg.Options
		ask  []registry.Option
	}{
		// Asked ?n=1000 (WithPageSize), as registries that page are.
		{"probe after a full page without Link", testreg.Options{NoLink: true}, []registry.Option{registry.WithPageSize(1000)}},
		// Asked for the whole list, it answers a page with a Link.
		{"Link pages", testreg.Options{PageSize: 1000}, nil},
	} {
		srv := testreg.Start(t, walk.opts)
		seed(t, srv, "team/app", want)
		for _, tc := range []struct {
			name  string
			fault testreg.Fault
		}{
			{"500", testreg.Fault{Status: 500}},
			{"400", testreg.Fault{Status: 400}},
			{"404", testreg.Fault{Status: 404}},
			{"429 after the retries", testreg.Fault{Status: 429, RetryAfter: "0"}},
			{"reset", testreg.Fault{Reset: true}},
			{"truncated body", testreg.Fault{Truncate: true}},
		} {
			t.Run(walk.name+"/"+tc.name, func(t *testing.T) {
				proxy := testreg.StartFaultProxy(t, srv.Target, func(r *http.Request) *testreg.Fault {
					if r.URL.Query().Has("last") {
						f := tc.fault
						return &f
					}
					return nil
				})
				c := newClient(t, proxy.Target, walk.ask...)
				got, err := c.ListTags(context.Background(), proxy.Repo("team/app"))
				if !errors.Is(err, registry.ErrIncompleteList) || !strings.Contains(err.Error(), proxy.Repo("team/app")) {
					t.Errorf("err = %v, want ErrIncompleteList naming the repository", err)
				}
				if got != nil {
					t.Errorf("a failed list returned %d tags", len(got))
				}
			})
		}
	}
}

// TestListTagsUnderRandomFaults is the fault-injection run of issue 14:
// 2,500 tags without Link, 20% of requests failing at random (500, 429,
// 503, resets, truncated bodies), 60 runs. Every run lists all 2,500 tags
// or fails; none returns a part of them.
func TestListTagsUnderRandomFaults(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{NoLink: true})
	want := semverTags()
	seed(t, srv, "team/app", want)
	complete, failed, partial := 0, 0, 0
	for run := range 60 {
		proxy := testreg.StartFaultProxy(t, srv.Target, testreg.RandomFaults(uint64(run), 0.2))
		// Pages of 1,000 and probes: the walk with the most requests to fail.
		c := newClient(t, proxy.Target, registry.WithPageSize(1000))
		got, err := c.ListTags(context.Background(), proxy.Repo("team/app"))
		if err != nil {
			failed++
			if got != nil || !strings.Contains(err.Error(), proxy.Repo("team/app")) {
				t.Errorf("run %d: %d tags with err = %v", run, len(got), err)
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			partial++
			t.Errorf("run %d: partial list taken as complete (%d of %d tags, %d faults)", run, len(got), len(want), proxy.Faults())
			continue
		}
		complete++
	}
	t.Logf("60 runs: %d complete lists, %d errors, %d partial lists", complete, failed, partial)
}

// hugeList serves a registry whose team/app has n tags ("t0000000" …) in
// one tag list answer, written as it goes (chunked, no Content-Length), and
// counts the bytes the client accepted.
type hugeList struct {
	n       int
	written chan int64 // the handler's total, once it ends
}

func (h *hugeList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/team/app/tags/list" {
		w.WriteHeader(http.StatusOK) // the ping
		return
	}
	var total int64
	defer func() { h.written <- total }()
	w.Header().Set("Content-Type", "application/json")
	buf := []byte(`{"name":"team/app","tags":[`)
	for i := range h.n {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, `"t%07d"`, i)
		if len(buf) >= 32<<10 || i == h.n-1 {
			if i == h.n-1 {
				buf = append(buf, "]}"...)
			}
			n, err := w.Write(buf)
			total += int64(n)
			if err != nil {
				return
			}
			buf = buf[:0]
		}
	}
}

// TestListTagsBoundWhileStreaming: a tag list larger than WithMaxTags fails
// while it streams in; the client stops reading there instead of taking
// the whole answer into memory (a 200 MB tag list once took 554 MB).
func TestListTagsBoundWhileStreaming(t *testing.T) {
	const tags = 10_000_000 // 110 MB of JSON
	h := &hugeList{n: tags, written: make(chan int64, 1)}
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := registry.New(registry.WithKeychain(emptyKeychain{}), registry.WithRetry(1, 0), registry.WithMaxTags(1000),
		registry.WithHosts(registry.Host{Prefix: host, RateLimit: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTags(context.Background(), host+"/team/app")
	if !errors.Is(err, registry.ErrTooManyTags) || !strings.Contains(err.Error(), "more than 1000 tags") {
		t.Fatalf("err = %v, want ErrTooManyTags", err)
	}
	// What the server could hand over before the client hung up: what it
	// read, plus what the sockets buffer. Far less than the answer.
	written := <-h.written
	if whole := int64(tags) * 11; written > whole/10 {
		t.Errorf("the server wrote %d of %d bytes before the client stopped", written, whole)
	}
	t.Logf("server wrote %d bytes before the client stopped reading", written)
}

// TestBodyCap: an answer larger than WithMaxBodySize fails the request,
// whether its size is announced or not.
func TestBodyCap(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	seed(t, srv, "team/app", tagNames("t", 300)) // ~3 KB of tag list
	huge := httptest.NewServer(&hugeList{n: 300, written: make(chan int64, 1)})
	defer huge.Close()
	for name, host := range map[string]string{"Content-Length": srv.Prefix(), "chunked": strings.TrimPrefix(huge.URL, "http://")} {
		t.Run(name, func(t *testing.T) {
			c, err := registry.New(registry.WithKeychain(emptyKeychain{}), registry.WithRetry(1, 0), registry.WithMaxBodySize(1000),
				registry.WithHosts(registry.Host{Prefix: host, RateLimit: 1000}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListTags(context.Background(), host+"/team/app")
			if !errors.Is(err, registry.ErrBodyTooLarge) || !strings.Contains(err.Error(), "1000 bytes") {
				t.Errorf("err = %v, want ErrBodyTooLarge", err)
			}
		})
	}
	c := newClient(t, srv.Target, registry.WithMaxBodySize(3000))
	if tags, err := c.ListTags(context.Background(), srv.Repo("team/app")); err != nil || len(tags) != 300 {
		t.Errorf("under the cap: %d tags, %v", len(tags), err)
	}
}

// listQueries returns the query of every tag list request srv served, in
// order ("" for none).
func listQueries(srv *testreg.Server) []string {
	var qs []string
	for _, r := range srv.Requests() {
		if p, q, _ := strings.Cut(strings.TrimPrefix(r, "GET "), "?"); strings.HasSuffix(p, "/tags/list") {
			qs = append(qs, q)
		}
	}
	return qs
}

// TestListTagsRoundTrips pins issue 13's first point: a tag list costs as
// few requests as the registry allows. A registry that answers every tag
// when asked without ?n= costs one request; one that pages on its own with
// Links costs exactly one request per page and no probe, and is asked for
// pages of 1,000 once it is known to page (at once when its first page is
// smaller, then in this process and, through the cache directory, the
// next).
func TestListTagsRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testreg.Options
		tags int
		// list requests of the first list, of the next ones (same client,
		// then a new client on the same cache directory)
		first, next int
		// whether the first and the next lists ask ?n=
		firstN, nextN bool
	}{
		{name: "whole list at once", opts: testreg.Options{}, tags: 10300, first: 1, next: 1},
		{name: "whole list, ggcr without Link", opts: testreg.Options{NoLink: true}, tags: 10300, first: 1, next: 1},
		{name: "pages of 1,000 with Link", opts: testreg.Options{PageSize: 1000}, tags: 10300, first: 11, next: 11, nextN: true},
		// The last page is full and has no Link: it is the last, no probe.
		{name: "pages of 1,000, full last page", opts: testreg.Options{PageSize: 1000}, tags: 10000, first: 10, next: 10, nextN: true},
		// 100 a page unless asked for more (Docker Hub, ECR): the first
		// page says so, and the list starts over with pages of 1,000.
		{name: "pages of 100 unless asked", opts: testreg.Options{DefaultPageSize: 100}, tags: 2050, first: 1 + 3, next: 3, nextN: true},
		// A registry whose pages are at most 100, whatever it is asked.
		{name: "pages of 100 at most", opts: testreg.Options{PageSize: 100}, tags: 2050, first: 1 + 21, next: 21, nextN: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testreg.Start(t, tc.opts)
			want := make([]string, tc.tags)
			for i := range want {
				want[i] = fmt.Sprintf("1.%05d.0", i)
			}
			seed(t, srv, "team/app", want)
			cache := t.TempDir()
			c := newClient(t, srv.Target, registry.WithCacheDir(cache))
			for i, c := range []*registry.Client{c, c, newClient(t, srv.Target, registry.WithCacheDir(cache))} {
				srv.ResetCounts()
				got, err := c.ListTags(context.Background(), srv.Repo("team/app"))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("list %d: tags (-want +got):\n%s", i, diff)
				}
				wantN, askN := tc.first, tc.firstN
				if i > 0 {
					wantN, askN = tc.next, tc.nextN
				}
				qs := listQueries(srv)
				if len(qs) != wantN {
					t.Errorf("list %d: %d list requests, want %d: %q", i, len(qs), wantN, qs)
				}
				if gotN := strings.Contains(qs[0], "n="); gotN != askN {
					t.Errorf("list %d: first request %q; want ?n= %v", i, qs[0], askN)
				}
			}
		})
	}
}

// TestListTagsRefusedPageSize: a registry that answers 400 to ?n= is asked
// again without it, at once, and never with it after that.
func TestListTagsRefusedPageSize(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	want := tagNames("t", 30)
	seed(t, srv, "team/app", want)
	proxy := testreg.StartFaultProxy(t, srv.Target, func(r *http.Request) *testreg.Fault {
		if strings.HasSuffix(r.URL.Path, "/tags/list") && r.URL.Query().Has("n") {
			return &testreg.Fault{Status: http.StatusBadRequest}
		}
		return nil
	})
	c := newClient(t, proxy.Target, registry.WithPageSize(10))
	for i, wantLists := range []int{2, 1} {
		before := len(proxy.Requests())
		got, err := c.ListTags(context.Background(), proxy.Repo("team/app"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("list %d: tags (-want +got):\n%s", i, diff)
		}
		lists := 0
		for _, r := range proxy.Requests()[before:] {
			if strings.Contains(r, "/tags/list") {
				lists++
			}
		}
		if lists != wantLists {
			t.Errorf("list %d: %d list requests, want %d: %q", i, lists, wantLists, proxy.Requests()[before:])
		}
	}
}
