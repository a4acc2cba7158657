package resolve_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/registry"
)

// TestMemo: within one memo (a cycle) every repository is listed once and
// every tag asked once, whoever asks and how often, failures included; a
// new memo asks again.
func TestMemo(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{Latency: 10 * time.Millisecond})
	repo := srv.Repo("team/app")
	d1 := srv.PushImage(t, "team/app", t0, "1.0.0")
	srv.PushImage(t, "team/app", t0.Add(time.Hour), "1.1.0")
	c := client(t, srv)
	ctx := context.Background()
	srv.ResetCounts()

	memo := resolve.NewMemo(c)
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for range 10 {
		wg.Add(3)
		go func() {
			defer wg.Done()
			tags, err := memo.ListTags(ctx, repo)
			if err == nil && !slices.Equal(tags, []string{"1.0.0", "1.1.0"}) {
				err = fmt.Errorf("tags = %q", tags)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := memo.ListTags(ctx, srv.Repo("team/missing"))
			if !errors.Is(err, registry.ErrNotFound) {
				err = fmt.Errorf("missing repository: err = %v", err)
			} else {
				err = nil
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			m, err := memo.Describe(ctx, repo, "1.0.0")
			if err == nil && m.Digest != d1 {
				err = fmt.Errorf("Describe = %+v", m)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Describe read the digest: Digest of the same tag asks nothing.
	if d, err := memo.Digest(ctx, repo, "1.0.0"); err != nil || d != d1 {
		t.Errorf("Digest = %q, %v", d, err)
	}
	for range 3 {
		if _, err := memo.Digest(ctx, repo, "1.1.0"); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{
		"list":    srv.Count("GET", "/team/app/tags/list"),
		"missing": srv.Count("GET", "/team/missing/tags/list"),
		"get":     srv.Count("GET", "/manifests/"),
		"head":    srv.Count("HEAD", "/manifests/"),
	}
	want := map[string]int{"list": 1, "missing": 1, "get": 1, "head": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests within one memo (-want +got):\n%s\n%q", diff, srv.Requests())
	}

	// The caller owns what it gets.
	tags, _ := memo.ListTags(ctx, repo)
	tags[0] = "changed"
	if again, _ := memo.ListTags(ctx, repo); again[0] != "1.0.0" {
		t.Errorf("a caller's change leaked into the memo: %q", again)
	}

	srv.ResetCounts()
	next := resolve.NewMemo(c)
	if _, err := next.ListTags(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if _, err := next.ListTags(ctx, srv.Repo("team/missing")); err == nil {
		t.Error("missing repository listed")
	}
	if n := srv.Count("GET", "/tags/list"); n != 2 {
		t.Errorf("a new memo made %d list requests, want 2", n)
	}
}

// TestMemoKeepsNoCancellation: an answer cut short by its caller's ctx is
// not kept; the next caller asks again.
func TestMemoKeepsNoCancellation(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "1.0.0")
	srv.Inject(testreg.Fault{Method: "GET", Path: "/tags/list", Delay: time.Second})
	memo := resolve.NewMemo(client(t, srv))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := memo.ListTags(ctx, srv.Repo("team/app")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	tags, err := memo.ListTags(context.Background(), srv.Repo("team/app"))
	if err != nil || len(tags) != 1 {
		t.Errorf("after a cancelled caller: %q, %v", tags, err)
	}
}

// TestMemoWithCandidates: Candidates through a memo, for several policies
// of one image (several environments), lists once.
func TestMemoWithCandidates(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "1.0.0", "1.1.0-rc.1", "2.0.0")
	memo := resolve.NewMemo(client(t, srv))
	srv.ResetCounts()
	for _, c := range []string{"^1", ">=1.0.0-0", "*"} {
		if _, err := resolve.Candidates(context.Background(), memo, mustPolicy(t, policy.Spec{Constraint: c}), srv.Repo("team/app")); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Count("GET", "/tags/list"); n != 1 {
		t.Errorf("%d list requests, want 1", n)
	}
}

// TestMemoKeepsNoPartialList: a list that failed after its first page is
// kept as the error it is (asked once per memo, never a part of the tags);
// the next memo, the next cycle, asks again and gets the whole list.
func TestMemoKeepsNoPartialList(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{NoLink: true})
	tags := make([]string, 25)
	for i := range tags {
		tags[i] = fmt.Sprintf("1.0.%02d", i)
	}
	srv.PushImage(t, "team/app", t0, tags[0])
	srv.Tag(t, "team/app", tags[0], tags[1:]...)
	var failing atomic.Bool
	failing.Store(true)
	proxy := testreg.StartFaultProxy(t, srv.Target, func(r *http.Request) *testreg.Fault {
		if failing.Load() && r.URL.Query().Has("last") {
			return &testreg.Fault{Reset: true}
		}
		return nil
	})
	c, err := registry.New(registry.WithKeychain(anonymous{}), registry.WithRetry(1, 0), registry.WithPageSize(10),
		registry.WithHosts(registry.Host{Prefix: proxy.Prefix(), RateLimit: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	repo, ctx := proxy.Repo("team/app"), context.Background()
	memo := resolve.NewMemo(c)
	for range 3 {
		got, err := memo.ListTags(ctx, repo)
		if !errors.Is(err, registry.ErrIncompleteList) || got != nil {
			t.Fatalf("ListTags = %d tags, %v; want ErrIncompleteList and no tags", len(got), err)
		}
	}
	if n := len(proxy.Requests()); n != 3 { // ping, first page, the failed probe
		t.Errorf("the memo asked again: %q", proxy.Requests())
	}
	failing.Store(false)
	got, err := resolve.NewMemo(c).ListTags(ctx, repo)
	if err != nil || !slices.Equal(got, tags) {
		t.Errorf("next memo: %d tags, %v; want all %d", len(got), err, len(tags))
	}
}
