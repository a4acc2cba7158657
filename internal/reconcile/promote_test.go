package reconcile

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

const gatedChain = `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: production
    path: envs/production
    promotion: {from: staging, soak: 2s}
    images: [{image: REG/team/app, kustomizeName: team/app, constraint: "^1"}]
  - name: staging
    path: envs/staging
    promotion: {from: dev}
    images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0-0"}]
  - name: dev
    path: envs/dev
    images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0-0"}]
`

// gateFixture runs cycles of gatedChain and describes each by what moved
// and what was held why.
type gateFixture struct {
	*fixture
	t *testing.T
}

func (g gateFixture) cycle() (moved []string, held map[string]string) {
	g.t.Helper()
	rep, err := g.rec.Cycle(context.Background())
	if err != nil || len(rep.Errors) > 0 {
		g.t.Fatalf("cycle: %v %+v", err, rep.Errors)
	}
	held = map[string]string{}
	for _, c := range rep.Changes {
		moved = append(moved, c.Env+" "+c.From+"->"+c.To)
	}
	for _, h := range rep.Held {
		held[h.Env] = h.Reason
	}
	return moved, held
}

// waitSoak waits until the 2s soak of a commit made now has passed.
func waitSoak() { time.Sleep(2100 * time.Millisecond) }

// soakRunning reports whether the 2s soak of the newest commit on main
// still runs, with some margin: Git keeps whole seconds, and a loaded
// machine can spend them between two cycles. A test asserts "waiting"
// only then, and says when it cannot.
func (g gateFixture) soakRunning() bool {
	g.t.Helper()
	ct, err := strconv.ParseInt(strings.TrimSpace(testgit.Git(g.t, g.bare, "log", "-1", "--format=%ct", "main")), 10, 64)
	if err != nil {
		g.t.Fatal(err)
	}
	if time.Since(time.Unix(ct, 0)) < 1800*time.Millisecond {
		return true
	}
	g.t.Logf("the newest commit is %s old: too late to see a 2s soak still running; not asserting it", time.Since(time.Unix(ct, 0)).Round(time.Millisecond))
	return false
}

// TestPromotionGates: dev -> staging -> production, production with a
// soak of 2s, promotion by retagging. Each environment takes an image only
// once the one before it runs that digest (for long enough); the same
// cycle never cascades; production's own policy still applies; a person's
// rollback in staging closes production's gate.
func TestPromotionGates(t *testing.T) {
	f := newFixture(t, gatedChain, map[string]string{
		"envs/dev/kustomization.yaml":        kustomization("team/app", "0.9.0"),
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	g := gateFixture{f, t}
	d0 := f.reg.push("team/app", "1.0.0")
	short := d0[:len("sha256:")+12] + "…"

	// dev is not gated; staging has never seen dev run 1.0.0 (dev's
	// commit of this cycle does not count: no cascades).
	moved, held := g.cycle()
	if diff := cmp.Diff([]string{"dev 0.9.0->1.0.0"}, moved); diff != "" {
		t.Errorf("cycle 1 moved (-want +got):\n%s", diff)
	}
	if want := "dev has never run " + short + " through tagwatch: no Tagwatch-Update trailer of dev for this image in its history"; held["staging"] != want {
		t.Errorf("staging held %q\nwant %q", held["staging"], want)
	}
	// staging follows dev (no soak); production waits for staging.
	moved, _ = g.cycle()
	if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0"}, moved); diff != "" {
		t.Errorf("cycle 2 moved (-want +got):\n%s", diff)
	}
	running := g.soakRunning()
	moved, held = g.cycle()
	if running {
		if len(moved) != 0 || !strings.HasPrefix(held["production"], "waiting: staging has run "+short+" for ") || !strings.HasSuffix(held["production"], " of 2s") {
			t.Errorf("cycle 3: moved %v, production held %q; want waiting for the soak", moved, held["production"])
		}
		waitSoak()
		moved, _ = g.cycle()
	}
	if diff := cmp.Diff([]string{"production 0.9.0->1.0.0"}, moved); diff != "" {
		t.Errorf("after the soak (-want +got):\n%s", diff)
	}
	msg := testgit.Git(t, f.bare, "log", "-1", "--format=%B", "main")
	if tr := audit.Parse(msg); len(tr) != 1 || tr[0].PromotedFrom != "staging" || tr[0].Digest != d0 {
		t.Errorf("production's trailer %+v, want from=staging", tr)
	}
	if !strings.Contains(strings.ReplaceAll(msg, "\n", " "), "The promotion gate from staging opened: staging has run "+short) {
		t.Errorf("production's commit does not say which gate opened:\n%s", msg)
	}

	// A release candidate: dev and staging take it, production (^1,
	// stable only) does not. Retagged as 1.1.0, the digest staging has run
	// for the soak already: production takes the release at once, in
	// promotion order, while dev and staging move to the tag.
	d1 := f.reg.push("team/app", "1.1.0-rc.1")
	g.cycle() // dev
	moved, _ = g.cycle()
	if diff := cmp.Diff([]string{"staging 1.0.0->1.1.0-rc.1"}, moved); diff != "" {
		t.Errorf("staging takes the rc (-want +got):\n%s", diff)
	}
	waitSoak()
	f.reg.retag("team/app", "1.1.0-rc.1", "1.1.0")
	moved, _ = g.cycle()
	if diff := cmp.Diff([]string{"dev 1.1.0-rc.1->1.1.0", "staging 1.1.0-rc.1->1.1.0", "production 1.0.0->1.1.0"}, moved); diff != "" {
		t.Errorf("retag (-want +got):\n%s", diff)
	}
	if got := audit.Parse(testgit.Git(t, f.bare, "log", "-1", "--format=%B", "main")); len(got) != 1 || got[0].Digest != d1 {
		t.Errorf("production took %+v, want the rc's digest %s", got, d1)
	}

	// Production's policy still applies: 2.0.0 passes the gate, not ^1.
	f.reg.push("team/app", "2.0.0")
	g.cycle()
	g.cycle()
	waitSoak()
	moved, held = g.cycle()
	if len(moved) != 0 || held["production"] != "" {
		t.Errorf("2.0.0: moved %v, held %v; production stays on 1.1.0 under ^1", moved, held)
	}

	// 1.2.0 reaches staging; a person rolls staging back by hand: the gate
	// closes, however long 1.2.0 had run.
	f.reg.push("team/app", "1.2.0")
	g.cycle() // dev
	g.cycle() // staging
	c := testgit.NewClone(t, f.bare)
	if _, err := c.CommitAndPush("envs/staging/kustomization.yaml", kustomization("team/app", "1.1.0"), "roll staging back to 1.1.0"); err != nil {
		t.Fatal(err)
	}
	waitSoak()
	_, held = g.cycle()
	if !strings.Contains(held["production"], "staging runs 1.1.0, which tagwatch's latest change") {
		t.Errorf("after staging's rollback production held %q; want the gate closed", held["production"])
	}
	if got := f.show(t, "envs/production/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("production:\n%s", got)
	}
}

// TestPromotionGateClosesOnRewrittenHistory: the commit whose trailer
// introduced staging's image is gone from the branch (a rewrite): the gate
// closes and says why, even though staging's files still hold the tag.
func TestPromotionGateClosesOnRewrittenHistory(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: staging
    path: envs/staging
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: production
    path: envs/production
    promotion: {from: staging}
    images: [{image: REG/team/app, kustomizeName: team/app}]
`
	f := newFixture(t, cfg, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	g := gateFixture{f, t}
	f.reg.push("team/app", "1.0.0")
	g.cycle() // staging takes 1.0.0
	// The branch is rewritten to one parentless commit with the same files.
	tree := testgit.Git(t, f.bare, "rev-parse", "main^{tree}")
	root := testgit.Git(t, f.bare, "-c", "user.name=rewriter", "-c", "user.email=r@example.com", "commit-tree", tree, "-m", "squashed")
	testgit.Git(t, f.bare, "update-ref", "refs/heads/main", root)
	moved, held := g.cycle()
	if len(moved) != 0 || !strings.HasSuffix(held["production"], "through tagwatch: no Tagwatch-Update trailer of staging for this image in its history") {
		t.Errorf("moved %v, production held %q; want the gate closed for lack of history", moved, held["production"])
	}
}

// TestSoakRestartsWhenADigestIsTakenAgain: staging takes 1.1.0, is rolled
// back, the rollback is cleared and staging takes 1.1.0 again: the soak
// counts from the second time, not from the first (the digest did not run
// in between).
func TestSoakRestartsWhenADigestIsTakenAgain(t *testing.T) {
	f := newFixture(t, `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: staging
    path: envs/staging
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: production
    path: envs/production
    promotion: {from: staging, soak: 2s}
    images: [{image: REG/team/app, kustomizeName: team/app}]
`, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "1.0.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "1.0.0"),
	})
	g := gateFixture{f, t}
	f.reg.push("team/app", "1.0.0")
	f.reg.push("team/app", "1.1.0")
	image := f.reg.host + "/team/app"
	ctx := context.Background()

	if moved, _ := g.cycle(); len(moved) != 1 || moved[0] != "staging 1.0.0->1.1.0" {
		t.Fatalf("cycle 1 moved %v; want staging to 1.1.0", moved)
	}
	if _, err := f.rec.Rollback(ctx, RollbackRequest{Env: "staging", Image: image}); err != nil {
		t.Fatal(err)
	}
	waitSoak() // longer than the soak, counted from the first time
	if _, err := f.rec.Rollback(ctx, RollbackRequest{Env: "staging", Image: image, Clear: true}); err != nil {
		t.Fatal(err)
	}
	if moved, _ := g.cycle(); len(moved) != 1 || moved[0] != "staging 1.0.0->1.1.0" {
		t.Fatalf("after clearing, moved %v; want staging to 1.1.0 again", moved)
	}
	if g.soakRunning() {
		moved, held := g.cycle()
		if len(moved) != 0 || !strings.HasPrefix(held["production"], "waiting: staging has run ") {
			t.Errorf("right after staging took 1.1.0 again: moved %v, production held %q; want waiting for a new soak", moved, held["production"])
		}
	}
	waitSoak()
	if moved, _ := g.cycle(); len(moved) != 1 || moved[0] != "production 1.0.0->1.1.0" {
		t.Errorf("after the new soak, moved %v; want production to 1.1.0", moved)
	}
}

// TestTriggeredCycleKeepsAGateWithoutItsSource: production, promoted from
// staging, watches an image staging does not. A cycle triggered for that
// image keeps production alone: its gate closes with its reason, and the
// repository is not failed for a promotion order it cannot make.
func TestTriggeredCycleKeepsAGateWithoutItsSource(t *testing.T) {
	f := newFixture(t, `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: staging
    path: envs/staging
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: production
    path: envs/production
    promotion: {from: staging}
    images: [{image: REG/team/app, kustomizeName: team/app}, {image: REG/team/tool, kustomizeName: team/tool}]
`, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "1.0.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "1.0.0") + "  - name: team/tool\n    newTag: 1.0.0\n",
	})
	f.reg.push("team/tool", "1.0.0", "1.1.0")
	rep, err := f.rec.Cycle(context.Background(), Only(f.reg.host+"/team/tool"))
	if err != nil || len(rep.Errors) != 0 {
		t.Fatalf("triggered cycle: %v, errors %+v; want no error", err, rep.Errors)
	}
	if len(rep.Changes) != 0 || len(rep.Held) != 1 || rep.Held[0].Env != "production" || !strings.Contains(rep.Held[0].Reason, "staging does not watch") {
		t.Errorf("changes %+v, held %+v; want production held by its gate (staging does not watch the tool)", rep.Changes, rep.Held)
	}
}

// TestUnreadableHistoryClosesOnlyTheGates: when the repository's history
// cannot be read, the gated environment is not written (its move reports
// the error) and the repository does not fail as a whole: staging, which
// has no gate, brings its marker in line with its kustomization and
// commits.
func TestUnreadableHistoryClosesOnlyTheGates(t *testing.T) {
	open := func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
		r, err := OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return walkFails{r}, nil
	}
	f := newFixture(t, stagingAndGatedProduction, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "1.1.0"),
		"envs/staging/deploy.yaml":           "image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
		"envs/production/kustomization.yaml": kustomization("team/app", "1.0.0"),
	}, WithOpener(open))
	f.reg.push("team/app", "1.0.0")
	f.reg.push("team/app", "1.1.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatalf("the repository failed as a whole: %v", err)
	}
	var moved []string
	for _, c := range rep.Changes {
		moved = append(moved, c.Env+" "+c.From+"->"+c.To+" "+strings.Join(c.Files, ","))
	}
	if diff := cmp.Diff([]string{"staging 1.0.0->1.1.0 envs/staging/deploy.yaml"}, moved); diff != "" || len(rep.Commits) != 1 {
		t.Errorf("changes (-want +got):\n%s\ncommits %v", diff, rep.Commits)
	}
	if got := f.show(t, "envs/staging/deploy.yaml"); !strings.Contains(got, "team/app:1.1.0") {
		t.Errorf("staging's marker after the cycle:\n%s", got)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Env != "production" || rep.Errors[0].Image != f.reg.host+"/team/app" ||
		rep.Errors[0].Stage != StageGit || !errors.Is(rep.Errors[0].Err, errWalk) {
		t.Errorf("errors %+v, want production's image failing on the history", rep.Errors)
	}
	if got := f.show(t, "envs/production/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("production was written:\n%s", got)
	}

	// The gate itself is closed, saying why.
	ctx := context.Background()
	repo, err := open(ctx, "file://"+f.bare, gitrepo.WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	p := f.rec.targets.Plans()[0]
	c := &cycle{l: f.rec, ctx: ctx}
	pr := c.readPromotions(ctx, repo, &history{repo: repo, limit: 10}, p.Envs, p)
	run, why := pr.lookup("staging", plan.Normalize(f.reg.host+"/team/app"))
	if want := "its history cannot be read: reading the history of the repository: " + errWalk.Error(); run != nil || why != want {
		t.Errorf("staging, for production's gate: %+v, %q\nwant nil, %q", run, why, want)
	}
}
