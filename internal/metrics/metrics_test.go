package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/metrics"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/internal/webhook"
	"github.com/tagwatch/tagwatch/registry"
)

// racingRepo pushes a foreign commit to the remote before its first
// Publish, so that the push is rejected once and retried.
type racingRepo struct {
	reconcile.Repo
	race func()
}

func (r racingRepo) Publish(ctx context.Context, edits []gitrepo.Edit) (gitrepo.PublishResult, error) {
	r.race()
	return r.Repo.Publish(ctx, edits)
}

// TestFamiliesCountWhatHappened runs real scenarios (a change, a hold, a
// registry that answers 401, a push rejected once and retried, metadata
// from the cache, webhooks accepted and refused) through the loop, a real
// registry client, real git and the webhook receiver, then scrapes
// /metrics and checks each family's value.
func TestFamiliesCountWhatHappened(t *testing.T) {
	open := testreg.Start(t, testreg.Options{})
	locked := testreg.Start(t, testreg.Options{User: "u", Pass: "p"})
	open.PushImage(t, "team/app", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "1.0.0")
	open.PushImage(t, "team/web", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "build-1", "build-2")
	locked.PushImage(t, "team/app", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "1.0.0")
	kust := func(name, tag string) string { return "images:\n  - name: " + name + "\n    newTag: " + tag + "\n" }
	bare := testgit.NewBare(t, map[string]string{
		"envs/ok/kustomization.yaml":     kust("app", "0.9.0"),
		"envs/hold/kustomization.yaml":   kust("app", "9.0.0"),
		"envs/denied/kustomization.yaml": kust("app", "0.9.0"),
		"envs/web/kustomization.yaml":    kust("web", "build-1"),
	})
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
git: {url: file://%s, branch: main}
registries: [{prefix: %q, insecure: true}, {prefix: %q, insecure: true}]
environments:
  - {name: ok, path: envs/ok, images: [{image: %s, kustomizeName: app}]}
  - {name: hold, path: envs/hold, images: [{image: %s, kustomizeName: app}]}
  - {name: denied, path: envs/denied, images: [{image: %s, kustomizeName: app}]}
  - {name: web, path: envs/web, images: [{image: %s, kustomizeName: web, strategy: newest-build}]}
`, bare, open.Host, locked.Host, open.Repo("team/app"), open.Repo("team/app"), locked.Repo("team/app"), open.Repo("team/web"))))
	if err != nil {
		t.Fatal(err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.SetLeader(true)
	client, err := registry.New(registry.WithHosts(set.Hosts...), registry.WithCacheDir(t.TempDir()), registry.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	race := func() {
		once.Do(func() {
			if _, err := testgit.NewClone(t, bare).CommitAndPush("README", "a person\n", "docs"); err != nil {
				t.Error(err)
			}
		})
	}
	opener := func(ctx context.Context, url string, opts ...gitrepo.Option) (reconcile.Repo, error) {
		r, err := reconcile.OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return racingRepo{Repo: r, race: race}, nil
	}
	loop, err := reconcile.New(client, reconcile.Static(set.Plans), reconcile.WithObserver(m),
		reconcile.WithCacheDir(t.TempDir()), reconcile.WithOpener(opener))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := loop.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Webhooks: one accepted, one refused.
	wh, err := webhook.NewHandler(func(string, []webhook.Event) {}, webhook.WithObserver(m.Webhook),
		webhook.WithSecret("generic", func() (string, error) { return "s3cret", nil }))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"image": "` + open.Repo("team/app") + `", "tag": "1.0.0"}`
	for _, sig := range []string{webhook.Sign("s3cret", []byte(body)), webhook.Sign("wrong", []byte(body))} {
		req := httptest.NewRequest(http.MethodPost, webhook.Path+"?type=generic", strings.NewReader(body))
		req.Header.Set("X-Tagwatch-Signature", sig)
		wh.ServeHTTP(httptest.NewRecorder(), req)
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	eq := func(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
	atLeast := func(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }
	for _, c := range []struct {
		series string
		check  func(float64) bool
		want   string
	}{
		{`tagwatch_cycles_total{result="partial"}`, eq(2), "2 (the 401 fails one image each cycle)"},
		{`tagwatch_cycles_total{result="ok"}`, eq(0), "0"},
		{`tagwatch_cycles_total{result="failed"}`, eq(0), "0"},
		{`tagwatch_cycle_duration_seconds_count`, eq(2), "2"},
		{`tagwatch_changes_total{environment="ok"}`, eq(1), "1"},
		{`tagwatch_changes_total{environment="web"}`, eq(1), "1 (build-1 -> build-2)"},
		{`tagwatch_held_total{environment="hold"}`, eq(2), "2 (one per cycle)"},
		{`tagwatch_errors_total{stage="registry"}`, eq(2), "2"},
		{`tagwatch_errors_total{stage="git"}`, eq(0), "0"},
		{`tagwatch_git_pushes_total{result="rejected"}`, eq(1), "1"},
		{`tagwatch_git_pushes_total{result="ok"}`, eq(1), "1"},
		{`tagwatch_git_pushes_total{result="error"}`, eq(0), "0"},
		{fmt.Sprintf(`tagwatch_registry_requests_total{code="401",kind="list",registry=%q}`, locked.Host), atLeast(2), ">= 2"},
		{fmt.Sprintf(`tagwatch_registry_requests_total{code="200",kind="list",registry=%q}`, open.Host), eq(4), "4 (two repositories, two cycles)"},
		{fmt.Sprintf(`tagwatch_registry_cache_hits_total{registry=%q}`, open.Host), atLeast(2), ">= 2 (both tags in the second cycle; build-2, the same image as build-1, may hit in the first)"},
		{`tagwatch_webhook_events_total{result="accepted",type="generic"}`, eq(1), "1"},
		{`tagwatch_webhook_events_total{result="unauthorized",type="generic"}`, eq(1), "1"},
		{`tagwatch_watched_images`, eq(3), "3"},
		{`tagwatch_leader`, eq(1), "1"},
		{`tagwatch_last_success_timestamp_seconds`, atLeast(float64(time.Now().Add(-time.Hour).Unix())), "within the hour"},
	} {
		v, ok := value(text, c.series)
		if !ok || !c.check(v) {
			t.Errorf("%s = %v (found %v), want %s", c.series, v, ok, c.want)
		}
	}
	for _, family := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(text, "\n"+family+" ") {
			t.Errorf("no %s: the Go and process collectors are missing", family)
		}
	}
}

// TestRejectedPushWithNothingLeft: a person pushes, while tagwatch pushes,
// the very value tagwatch writes. tagwatch's push is rejected; on the new
// head it has nothing left to push. The rejection is counted all the same,
// and no push went through.
func TestRejectedPushWithNothingLeft(t *testing.T) {
	reg := testreg.Start(t, testreg.Options{})
	reg.PushImage(t, "team/app", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "1.0.0")
	kust := func(tag string) string { return "images:\n  - name: app\n    newTag: " + tag + "\n" }
	bare := testgit.NewBare(t, map[string]string{"envs/ok/kustomization.yaml": kust("0.9.0")})
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
git: {url: file://%s, branch: main}
registries: [{prefix: %q, insecure: true}]
environments:
  - {name: ok, path: envs/ok, images: [{image: %s, kustomizeName: app}]}
`, bare, reg.Host, reg.Repo("team/app"))))
	if err != nil {
		t.Fatal(err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := registry.New(registry.WithHosts(set.Hosts...))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var person string
	race := func() {
		once.Do(func() {
			var perr error
			if person, perr = testgit.NewClone(t, bare).CommitAndPush("envs/ok/kustomization.yaml", kust("1.0.0"), "ok: 1.0.0 by hand"); perr != nil {
				t.Error(perr)
			}
		})
	}
	opener := func(ctx context.Context, url string, opts ...gitrepo.Option) (reconcile.Repo, error) {
		r, err := reconcile.OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return racingRepo{Repo: r, race: race}, nil
	}
	m := metrics.New()
	loop, err := reconcile.New(client, reconcile.Static(set.Plans), reconcile.WithObserver(m),
		reconcile.WithCacheDir(t.TempDir()), reconcile.WithOpener(opener))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loop.Cycle(context.Background())
	if err != nil || len(rep.Commits) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("cycle: %+v, %v; want no commit of tagwatch's and no error", rep, err)
	}
	if head := testgit.Head(t, bare, "main"); head != person {
		t.Fatalf("main at %.10s, want the person's commit %.10s", head, person)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for series, want := range map[string]float64{
		`tagwatch_git_pushes_total{result="rejected"}`: 1,
		`tagwatch_git_pushes_total{result="ok"}`:       0,
		`tagwatch_git_pushes_total{result="error"}`:    0,
	} {
		if v, ok := value(rec.Body.String(), series); !ok || v != want {
			t.Errorf("%s = %v (found %v), want %v", series, v, ok, want)
		}
	}
}

func value(text, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
