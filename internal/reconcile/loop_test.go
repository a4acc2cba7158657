package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/webhook"
)

// countingOpener counts the working copies opened, by URL, and can run a
// hook before each Publish.
type countingOpener struct {
	mu     sync.Mutex
	opened map[string]int
	before func()
}

func (o *countingOpener) open(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
	o.mu.Lock()
	if o.opened == nil {
		o.opened = map[string]int{}
	}
	o.opened[url]++
	before := o.before
	o.mu.Unlock()
	r, err := OpenGit(ctx, url, opts...)
	if err != nil {
		return nil, err
	}
	return hookedRepo{Repo: r, before: before}, nil
}

func (o *countingOpener) counts() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.opened)
}

// summaries is an observer that hands every summary to a channel.
type summaries chan Summary

func (s summaries) CycleDone(sum Summary) { s <- sum }

func (s summaries) next(t *testing.T) Summary {
	t.Helper()
	select {
	case sum := <-s:
		return sum
	case <-time.After(30 * time.Second):
		t.Fatal("no cycle finished within 30s")
		return Summary{}
	}
}

// TestCycleManyRepositories: environments grouped by repository, one push
// per repository, an image shared by two repositories listed once, and a
// repository with wrong credentials reported without stopping the others.
func TestCycleManyRepositories(t *testing.T) {
	reg := newTestRegistry(t)
	files := func(env string) map[string]string {
		return map[string]string{"envs/" + env + "/kustomization.yaml": kustomization("team/app", "0.9.0")}
	}
	local := testgit.NewBare(t, map[string]string{
		"envs/a1/kustomization.yaml": kustomization("team/app", "0.9.0"),
		"envs/a2/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	web := testgit.ServeHTTP(t, testgit.NewBare(t, files("b")))
	lockedBare := testgit.NewBare(t, files("c"))
	locked := testgit.ServeHTTP(t, lockedBare)
	t.Setenv("WEB_TOKEN", web.Password)
	t.Setenv("WRONG_TOKEN", "not-the-password")
	cfg := parseConfig(t, reg.expand(`
git: {url: file://`+local+`, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: a1
    path: envs/a1
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: b
    git: {url: `+web.URL+`, auth: {username: git, passwordEnv: WEB_TOKEN}}
    path: envs/b
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: c
    git: {url: `+locked.URL+`, auth: {username: git, passwordEnv: WRONG_TOKEN}}
    path: envs/c
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: a2
    path: envs/a2
    images: [{image: REG/team/app, kustomizeName: team/app}]
`))
	reg.push("team/app", "1.0.0")
	src := &countingSource{Source: reg.client()}
	obs := make(summaries, 1)
	loop, err := newLoop(t, cfg, src, WithCacheDir(t.TempDir()), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loop.Cycle(context.Background())
	if err != nil {
		t.Fatalf("Cycle: %v (one repository failing is not the cycle failing)", err)
	}
	var changed []string
	for _, c := range rep.Changes {
		changed = append(changed, c.Repository+" "+c.Env+" "+c.To)
	}
	want := []string{"file://" + local + " a1 1.0.0", "file://" + local + " a2 1.0.0", web.URL + " b 1.0.0"}
	if diff := cmp.Diff(want, changed); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Repository != locked.URL || rep.Errors[0].Env != "" || rep.Errors[0].Stage != StageGit {
		t.Fatalf("errors %+v, want one for %s as a whole", rep.Errors, locked.URL)
	}
	if e := rep.Errors[0].Err; !errors.Is(e, transport.ErrAuthenticationRequired) && !errors.Is(e, transport.ErrAuthorizationFailed) {
		t.Errorf("the error's cause %v (%T) is not go-git's authentication error: a caller cannot tell it from others", e, e)
	}
	if strings.Contains(rep.Errors[0].Error, "not-the-password") {
		t.Errorf("the error repeats the password: %s", rep.Errors[0].Error)
	}
	if got := testgit.Subjects(t, local, "main"); len(got) != 3 {
		t.Errorf("local remote: %v, want two tagwatch commits on the seed", got)
	}
	if got := testgit.Subjects(t, lockedBare, "main"); len(got) != 1 {
		t.Errorf("the refused repository moved: %v", got)
	}
	if st := web.Stats(); st.ReceivePack != 1 {
		t.Errorf("pushes to %s: %d, want 1", web.URL, st.ReceivePack)
	}
	sum := obs.next(t)
	if len(sum.Pushes) != 2 {
		t.Errorf("pushes %+v, want one per repository that changed", sum.Pushes)
	}
	if n := src.lists[reg.host+"/team/app"]; n != 1 {
		t.Errorf("the shared image was listed %d times, want once across repositories", n)
	}
}

// TestHungRepositoryTimesOut: one git server accepts connections and
// never answers, another refuses them: each is reported for itself (the
// hung one with ErrRepositoryTimeout, not the cycle's deadline) and the
// third repository is written and pushed in the same cycle.
func TestHungRepositoryTimesOut(t *testing.T) {
	reg := newTestRegistry(t)
	local := testgit.NewBare(t, map[string]string{"envs/a/kustomization.yaml": kustomization("team/app", "0.9.0")})
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	t.Cleanup(func() { hung.Close(); held.Wait() })
	go func() {
		for {
			conn, err := hung.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() { // read and never answer, until the client gives up
				defer held.Done()
				io.Copy(io.Discard, conn)
				conn.Close()
			}()
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/x.git"
	refused.Close()
	hungURL := "http://" + hung.Addr().String() + "/x.git"
	cfg := parseConfig(t, reg.expand(`
git: {url: file://`+local+`, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: a
    path: envs/a
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: hung
    git: {url: `+hungURL+`}
    path: envs/hung
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: refused
    git: {url: `+refusedURL+`}
    path: envs/refused
    images: [{image: REG/team/app, kustomizeName: team/app}]
`))
	reg.push("team/app", "1.0.0")
	loop, err := newLoop(t, cfg, reg.client(), WithCacheDir(t.TempDir()), WithRepositoryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := loop.Cycle(ctx)
	if err != nil {
		t.Fatalf("Cycle: %v (two repositories failing is not the cycle failing)", err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Env != "a" || rep.Changes[0].Commit == "" {
		t.Errorf("changes %+v, want a's, committed", rep.Changes)
	}
	if got := testgit.Subjects(t, local, "main"); len(got) != 2 {
		t.Errorf("the local remote has %v, want tagwatch's commit on the seed", got)
	}
	errs := map[string]Error{}
	for _, e := range rep.Errors {
		errs[e.Repository] = e
	}
	if e, ok := errs[hungURL]; !ok || !errors.Is(e.Err, ErrRepositoryTimeout) || !strings.Contains(e.Error, "repository timeout (1s)") {
		t.Errorf("the hung repository's error %+v, want the repository timeout", e)
	}
	if e, ok := errs[refusedURL]; !ok || errors.Is(e.Err, ErrRepositoryTimeout) || e.Stage != StageGit {
		t.Errorf("the refusing repository's error %+v, want its own (a git error)", e)
	}
	if ctx.Err() != nil {
		t.Errorf("the cycle ran into its own deadline")
	}
}

// TestCycleOnlyTouchesWatchingRepositories: a triggered cycle opens only
// the repositories watching the triggered image, and re-checks only it.
func TestCycleOnlyTouchesWatchingRepositories(t *testing.T) {
	reg := newTestRegistry(t)
	k := "images:\n  - name: app\n    newTag: 1.0.0\n  - name: web\n    newTag: 1.0.0\n"
	one := testgit.NewBare(t, map[string]string{"envs/x/kustomization.yaml": k})
	two := testgit.NewBare(t, map[string]string{"envs/y/kustomization.yaml": k})
	cfg := parseConfig(t, reg.expand(`
git: {url: file://`+one+`, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: x
    path: envs/x
    images: [{image: REG/team/app, kustomizeName: app}, {image: REG/team/web, kustomizeName: web}]
  - name: y
    git: {url: file://`+two+`}
    path: envs/y
    images: [{image: REG/team/web, kustomizeName: web}]
`))
	reg.push("team/app", "1.0.0")
	reg.push("team/web", "1.0.0")
	src := &countingSource{Source: reg.client()}
	opener := &countingOpener{}
	loop, err := newLoop(t, cfg, src, WithCacheDir(t.TempDir()), WithOpener(opener.open))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := loop.Cycle(context.Background()); err != nil || len(rep.Changes)+len(rep.Errors) != 0 {
		t.Fatalf("first cycle: %v %+v", err, rep)
	}
	reg.push("team/app", "1.1.0")
	reg.push("team/web", "1.1.0")
	src.lists = nil
	rep, err := loop.Cycle(context.Background(), Only(reg.host+"/team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Env != "x" || rep.Changes[0].Image != reg.host+"/team/app" {
		t.Errorf("changes %+v, want only x's app (web was not triggered)", rep.Changes)
	}
	wantOpened := map[string]int{"file://" + one: 2, "file://" + two: 1}
	if diff := cmp.Diff(wantOpened, opener.counts()); diff != "" {
		t.Errorf("repositories opened (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{reg.host + "/team/app": 1}, src.lists); diff != "" {
		t.Errorf("tag lists (-want +got):\n%s", diff)
	}
}

// runLoop runs loop.Run(ctx) in the background; the channel yields its
// result. The test's cleanup drains the loop and waits for Run.
func runLoop(t *testing.T, ctx context.Context, loop *Loop) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- loop.Run(ctx); close(finished) }()
	t.Cleanup(func() {
		loop.Drain()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
	})
	return done
}

// TestRunTriggers: Run makes a full cycle at once, then a cycle scoped to
// the triggered repositories (a burst of triggers is one cycle), and
// returns nil once drained.
func TestRunTriggers(t *testing.T) {
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	obs := make(summaries, 10)
	loop, err := newLoop(t, parseConfig(t, strings.ReplaceAll(f.reg.expand(twoEnvs), "GIT", "file://"+f.bare)), f.src,
		WithCacheDir(t.TempDir()), WithInterval(time.Hour), WithDebounce(50*time.Millisecond), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	done := runLoop(t, context.Background(), loop)
	if sum := obs.next(t); sum.Scope != nil || len(sum.Report.Changes) != 0 {
		t.Fatalf("first cycle: %+v, want a full one with nothing to do", sum)
	}
	f.reg.push("team/app", "1.0.0")
	image := f.reg.host + "/team/app"
	for range 50 {
		loop.Trigger(image)
	}
	sum := obs.next(t)
	if diff := cmp.Diff([]string{image}, sum.Scope); diff != "" {
		t.Errorf("scope (-want +got):\n%s", diff)
	}
	if len(sum.Report.Changes) != 2 || len(sum.Report.Commits) != 2 {
		t.Errorf("triggered cycle: %+v", sum.Report)
	}
	loop.Drain()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Drain = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Drain")
	}
	select {
	case sum := <-obs:
		t.Errorf("an extra cycle ran: %+v (50 triggers must make one)", sum)
	default:
	}
}

// TestRunDrainFinishesTheCycle: Drain during a cycle lets it push.
func TestRunDrainFinishesTheCycle(t *testing.T) {
	var loop *Loop
	opener := &countingOpener{before: func() { loop.Drain() }}
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	f.reg.push("team/app", "1.0.0")
	obs := make(summaries, 10)
	loop, err := newLoop(t, parseConfig(t, strings.ReplaceAll(f.reg.expand(twoEnvs), "GIT", "file://"+f.bare)), f.src,
		WithCacheDir(t.TempDir()), WithInterval(time.Hour), WithOpener(opener.open), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v, want nil after a drain", err)
	}
	if sum := obs.next(t); len(sum.Report.Commits) != 2 {
		t.Errorf("drained cycle: %+v, want its two commits pushed", sum.Report)
	}
	if n := len(testgit.Commits(t, f.bare, "main")); n != 3 {
		t.Errorf("remote has %d commits, want the seed and two", n)
	}
}

// TestRunHardStopPushesNothing: cancelling Run's ctx during a cycle stops
// it before its push.
func TestRunHardStopPushesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opener := &countingOpener{before: cancel}
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	f.reg.push("team/app", "1.0.0")
	before := testgit.Head(t, f.bare, "main")
	obs := make(summaries, 10)
	loop, err := newLoop(t, parseConfig(t, strings.ReplaceAll(f.reg.expand(twoEnvs), "GIT", "file://"+f.bare)), f.src,
		WithCacheDir(t.TempDir()), WithInterval(time.Hour), WithOpener(opener.open), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	sum := obs.next(t)
	if len(sum.Report.Commits) != 0 || slices.ContainsFunc(sum.Pushes, func(p Push) bool { return p.Err == nil }) {
		t.Errorf("stopped cycle: %+v, pushes %+v: nothing may go out", sum.Report, sum.Pushes)
	}
	if after := testgit.Head(t, f.bare, "main"); after != before {
		t.Errorf("the remote moved after a hard stop")
	}
	if !slices.ContainsFunc(sum.Report.Errors, func(e Error) bool { return e.Env == "staging" && errors.Is(e.Err, context.Canceled) }) {
		t.Errorf("errors %+v: the change not written is reported, with the stop as its cause", sum.Report.Errors)
	}
}

// TestWebhookBurstIsOneCycle: 50 notifications over real HTTP, through the
// webhook receiver into Trigger, make one cycle.
func TestWebhookBurstIsOneCycle(t *testing.T) {
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	obs := make(summaries, 10)
	// A long debounce (its quiet spell is 1s): 50 requests sent at once
	// land well within it, however busy the machine.
	loop, err := newLoop(t, parseConfig(t, strings.ReplaceAll(f.reg.expand(twoEnvs), "GIT", "file://"+f.bare)), f.src,
		WithCacheDir(t.TempDir()), WithInterval(time.Hour), WithDebounce(5*time.Second), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, context.Background(), loop)
	obs.next(t) // the first full cycle
	image := f.reg.host + "/team/app"
	f.reg.push("team/app", "1.0.0")
	h, err := webhook.NewHandler(func(_ string, evs []webhook.Event) {
		repos := make([]string, len(evs))
		for i, e := range evs {
			repos[i] = e.Repository
		}
		loop.Trigger(repos...)
	}, webhook.WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"image": %q, "tag": "1.0.%d"}`, image, i)
			resp, err := http.Post(srv.URL+webhook.Path+"?type=generic", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("notification %d: %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	sum := obs.next(t)
	if diff := cmp.Diff([]string{image}, sum.Scope); diff != "" || len(sum.Report.Changes) != 2 {
		t.Errorf("the burst's cycle: scope (-want +got):\n%s\nchanges %+v", diff, sum.Report.Changes)
	}
	select {
	case extra := <-obs:
		t.Errorf("a second cycle ran: %+v", extra.Scope)
	case <-time.After(6 * time.Second):
	}
}
