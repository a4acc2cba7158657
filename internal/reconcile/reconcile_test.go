package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

const twoEnvs = `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: staging
    path: envs/staging
    images:
      - {image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0-0"}
  - name: production
    path: envs/production
    images:
      - {image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0"}
`

type fixture struct {
	reg  *testRegistry
	bare string
	src  *countingSource
	rec  *Loop
}

func newFixture(t *testing.T, cfgYAML string, files map[string]string, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{reg: newTestRegistry(t)}
	expanded := map[string]string{}
	for k, v := range files {
		expanded[k] = f.reg.expand(v)
	}
	f.bare = testgit.NewBare(t, expanded)
	cfg := parseConfig(t, strings.ReplaceAll(f.reg.expand(cfgYAML), "GIT", "file://"+f.bare))
	f.src = &countingSource{Source: f.reg.client()}
	opts = append([]Option{WithCacheDir(t.TempDir())}, opts...)
	rec, err := newLoop(t, cfg, f.src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.rec = rec
	return f
}

func (f *fixture) show(t *testing.T, path string) string {
	t.Helper()
	return testgit.Show(t, f.bare, "main", path) + "\n"
}

var ignoreDigest = cmpopts.IgnoreFields(Change{}, "Digest", "Commit", "Edits")

func TestCyclePerEnvironmentSemver(t *testing.T) {
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
		"base/kustomization.yaml":            "resources: []\n",
	})
	digest := f.reg.push("team/app", "1.0.0")
	f.reg.push("team/app", "1.1.0-rc.1")
	before := testgit.Head(t, f.bare, "main")

	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	image := f.reg.host + "/team/app"
	want := []Change{
		{Repository: "file://" + f.bare, Env: "staging", Image: image, File: "envs/staging/kustomization.yaml", Files: []string{"envs/staging/kustomization.yaml"}, From: "0.9.0", To: "1.1.0-rc.1"},
		{Repository: "file://" + f.bare, Env: "production", Image: image, File: "envs/production/kustomization.yaml", Files: []string{"envs/production/kustomization.yaml"}, From: "0.9.0", To: "1.0.0", Digest: digest},
	}
	if diff := cmp.Diff(want, rep.Changes, ignoreDigest); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if rep.Changes[1].Digest != digest {
		t.Errorf("production digest = %q, want %q", rep.Changes[1].Digest, digest)
	}
	if len(rep.Errors) != 0 || len(rep.Held) != 0 {
		t.Errorf("errors %v, held %v; want none", rep.Errors, rep.Held)
	}
	// One commit per environment, in one push, on top of what was there.
	commits := testgit.Commits(t, f.bare, "main")
	if len(rep.Commits) != 2 || len(commits) != 3 || commits[2] != before {
		t.Fatalf("report commits %v, remote history %v", rep.Commits, commits)
	}
	if rep.Changes[0].Commit != rep.Commits[0] || rep.Changes[1].Commit != rep.Commits[1] {
		t.Errorf("changes name commits %q, %q; report has %v", rep.Changes[0].Commit, rep.Changes[1].Commit, rep.Commits)
	}
	wantProd := "resources:\n  - ../../base\nimages:\n  - name: team/app\n    newTag: 1.0.0 # kept by tagwatch\n    newName: " + image + "\n"
	if got := f.show(t, "envs/production/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0 # kept by tagwatch") || !strings.Contains(got, "newName: "+image) {
		t.Errorf("production kustomization:\n%s\nwant like:\n%s", got, wantProd)
	}
	// The audit trail reads back from the commit message.
	msg := testgit.Git(t, f.bare, "log", "-1", "--format=%B", rep.Commits[1])
	got := audit.Parse(msg)
	if len(got) != 1 || got[0].Env != "production" || got[0].To != "1.0.0" || got[0].From != "0.9.0" {
		t.Errorf("trailers of %q = %+v", msg, got)
	}
	if !strings.HasPrefix(msg, "tagwatch(production): "+image+" 0.9.0 -> 1.0.0") {
		t.Errorf("subject of %q", msg)
	}
	if n := f.src.lists[image]; n != 1 {
		t.Errorf("listed %s %d times, want once", image, n)
	}

	// A second cycle has nothing to do, and asks the registry for no digest.
	f.src.digests = 0
	rep, err = f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes)+len(rep.Commits)+len(rep.Errors)+len(rep.Held) != 0 {
		t.Errorf("second cycle: %+v, want nothing", rep)
	}
	if n := len(testgit.Commits(t, f.bare, "main")); n != 3 {
		t.Errorf("remote has %d commits after an idle cycle, want 3", n)
	}
	if f.src.digests != 0 {
		t.Errorf("idle cycle looked up %d digests, want none", f.src.digests)
	}
}

func TestCycleListsEachRepositoryOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString("git: {url: GIT, branch: main}\nregistries: [{prefix: REG, insecure: true}]\nenvironments:\n")
	files := map[string]string{}
	envs := []string{"a", "b", "c", "d"}
	for _, e := range envs {
		b.WriteString("  - name: " + e + "\n    path: envs/" + e + "\n    images:\n      - {image: REG/team/app, kustomizeName: app}\n      - {image: REG/team/web, kustomizeName: web}\n")
		files["envs/"+e+"/kustomization.yaml"] = "images:\n  - name: app\n    newTag: 1.0.0\n  - name: web\n    newTag: 1.0.0\n"
	}
	f := newFixture(t, b.String(), files)
	f.reg.push("team/app", "1.0.0", "1.2.0")
	f.reg.push("team/web", "1.0.0", "2.0.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 8 || len(rep.Commits) != 4 || len(rep.Errors) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	want := map[string]int{f.reg.host + "/team/app": 1, f.reg.host + "/team/web": 1}
	if diff := cmp.Diff(want, f.src.lists); diff != "" {
		t.Errorf("ListTags calls (-want +got):\n%s", diff)
	}
	subject := testgit.Subjects(t, f.bare, "main")[0]
	if subject != "tagwatch(d): update 2 images" {
		t.Errorf("subject %q", subject)
	}
}

func TestCycleHoldsInsteadOfDowngrading(t *testing.T) {
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "2.0.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	})
	f.reg.push("team/app", "1.0.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	image := f.reg.host + "/team/app"
	wantHeld := []Change{{Repository: "file://" + f.bare, Env: "staging", Image: image, File: "envs/staging/kustomization.yaml", Files: []string{"envs/staging/kustomization.yaml"}, From: "2.0.0", To: "1.0.0",
		Reason: `The tag in Git, "2.0.0", ranks above the best candidate "1.0.0" under semver ">=1.0.0-0", so it is held (set allowDowngrade to go down).`}}
	if diff := cmp.Diff(wantHeld, rep.Held, ignoreDigest); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Env != "production" {
		t.Errorf("changes %+v, want production only", rep.Changes)
	}
	if got := f.show(t, "envs/staging/kustomization.yaml"); got != kustomization("team/app", "2.0.0") {
		t.Errorf("staging changed:\n%s", got)
	}
}

func TestCycleFailuresStayLocal(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: broken
    path: envs/broken
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: missing-image
    path: envs/missing
    images:
      - {image: REG/team/nothing-here, kustomizeName: nothing}
      - {image: REG/team/app, kustomizeName: team/app}
  - name: no-entry
    path: envs/noentry
    images: [{image: REG/team/app, kustomizeName: other/name}]
  - name: fine
    path: envs/fine
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: gone
    path: envs/gone
    images: [{image: REG/team/app, kustomizeName: team/app}]
`
	malformed := "images:\n  - name: team/app\n    newTag: [1.0.0\n"
	f := newFixture(t, cfg, map[string]string{
		"envs/broken/kustomization.yaml":  malformed,
		"envs/missing/kustomization.yaml": kustomization("team/app", "0.1.0") + "  - name: nothing\n    newTag: 0.1.0\n",
		"envs/noentry/kustomization.yaml": kustomization("team/app", "0.1.0"),
		"envs/fine/kustomization.yaml":    kustomization("team/app", "0.1.0"),
	})
	f.reg.push("team/app", "1.0.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var gotErrs []string
	for _, e := range rep.Errors {
		gotErrs = append(gotErrs, e.Env+" "+strings.TrimPrefix(e.Image, f.reg.host+"/"))
	}
	wantErrs := []string{"broken team/app", "missing-image team/nothing-here", "no-entry team/app", "gone "}
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("errors (-want +got):\n%s\n%+v", diff, rep.Errors)
	}
	var changed []string
	for _, c := range rep.Changes {
		changed = append(changed, c.Env)
	}
	if diff := cmp.Diff([]string{"missing-image", "fine"}, changed); diff != "" {
		t.Errorf("changed environments (-want +got):\n%s", diff)
	}
	if got := f.show(t, "envs/broken/kustomization.yaml"); got != malformed {
		t.Errorf("malformed file changed:\n%s", got)
	}
	if !rep.Failed() {
		t.Error("Failed() = false")
	}
}

func TestCycleDryRunWritesNothing(t *testing.T) {
	var dir string
	capture := func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
		r, err := OpenGit(ctx, url, opts...)
		if err == nil {
			dir = r.Dir()
		}
		return r, err
	}
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	}, WithOpener(capture))
	f.reg.push("team/app", "1.0.0")
	before := testgit.Head(t, f.bare, "main")
	rep, err := f.rec.Cycle(context.Background(), DryRun(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 2 || len(rep.Commits) != 0 {
		t.Errorf("dry run report %+v, want 2 changes and no commits", rep)
	}
	if after := testgit.Head(t, f.bare, "main"); after != before {
		t.Errorf("remote moved from %s to %s", before, after)
	}
	out, err := exec.Command("git", "-C", dir, "status", "--porcelain").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("cached working copy not clean: %s %v", out, err)
	}
	// The same cycle for real does what the dry run said.
	real, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep.Changes, real.Changes, cmpopts.IgnoreFields(Change{}, "Commit")); diff != "" {
		t.Errorf("dry run vs real (-dry +real):\n%s", diff)
	}
}

func TestCycleRacingForeignCommit(t *testing.T) {
	var foreign string
	var bare string
	race := func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
		r, err := OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return hookedRepo{Repo: r, before: func() {
			if foreign != "" {
				return
			}
			c := testgit.NewClone(t, bare)
			// A human moves staging on by hand while tagwatch is mid-cycle.
			h, err := c.CommitAndPush("envs/staging/kustomization.yaml", kustomization("team/app", "1.0.0"), "staging: 1.0.0 by hand")
			if err != nil {
				t.Error(err)
			}
			foreign = h
		}}, nil
	}
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	}, WithOpener(race))
	bare = f.bare
	f.reg.push("team/app", "1.0.0", "1.1.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !testgit.IsAncestor(t, f.bare, foreign, "main") {
		t.Fatal("the foreign commit was lost")
	}
	// Apply re-ran on the new head: staging moves from the hand-set 1.0.0.
	var froms []string
	for _, c := range rep.Changes {
		froms = append(froms, c.Env+" "+c.From+"->"+c.To)
	}
	if diff := cmp.Diff([]string{"staging 1.0.0->1.1.0", "production 0.9.0->1.1.0"}, froms); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := f.show(t, "envs/staging/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("staging:\n%s", got)
	}
}

func TestCycleTargetsHelmAndMarkers(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: prod
    path: envs/prod
    images:
      - image: REG/team/app
        writeDigest: true
        helm: {file: values.yaml, repository: image.repository, tag: image.tag}
`
	f := newFixture(t, cfg, map[string]string{
		"envs/prod/values.yaml": "image:\n  repository: REG/team/app\n  tag: 1.0.0 # helm\n",
		"envs/prod/job.yaml":    "spec:\n  image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
	})
	d := f.reg.push("team/app", "1.0.0", "1.3.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 0 || len(rep.Changes) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if c := rep.Changes[0]; c.To != "1.3.0" || c.Digest != d {
		t.Errorf("change %+v, want to 1.3.0 @ %s", c, d)
	}
	values := f.show(t, "envs/prod/values.yaml")
	if !strings.Contains(values, "1.3.0@"+d) {
		t.Errorf("values.yaml:\n%s", values)
	}
	job := f.show(t, "envs/prod/job.yaml")
	if !strings.Contains(job, ":1.3.0@"+d) {
		t.Errorf("job.yaml:\n%s", job)
	}
	files := strings.Fields(testgit.Git(t, f.bare, "show", "--format=", "--name-only", "main"))
	slices.Sort(files)
	if diff := cmp.Diff([]string{"envs/prod/job.yaml", "envs/prod/values.yaml"}, files); diff != "" {
		t.Errorf("files of the commit (-want +got):\n%s", diff)
	}
}

func TestReportJSON(t *testing.T) {
	b, err := json.Marshal(newReport())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"changes":[],"held":[],"errors":[],"commits":[]}`; got != want {
		t.Errorf("empty report = %s, want %s", got, want)
	}
	b, _ = json.Marshal(Change{Repository: "https://git.example.com/deploy.git", Env: "e", Image: "i", File: "f", Files: []string{"f", "g"}, From: "1", To: "2", Digest: "sha256:x", Commit: "c"})
	if got, want := string(b), `{"repository":"https://git.example.com/deploy.git","env":"e","image":"i","file":"f","files":["f","g"],"from":"1","to":"2","digest":"sha256:x"}`; got != want {
		t.Errorf("change = %s, want %s", got, want)
	}
	b, _ = json.Marshal(Error{Repository: "r", Env: "e", Image: "i", Error: "boom", Err: errors.New("boom"), Stage: StageGit})
	if got, want := string(b), `{"repository":"r","env":"e","image":"i","error":"boom"}`; got != want {
		t.Errorf("error = %s, want %s", got, want)
	}
}

// BenchmarkCycleIdle is the steady state of a daemon: 20 environments × 5
// images, nothing new in the registry. test/bench/cycle measures larger
// configurations and cycles that change everything.
func BenchmarkCycleIdle(b *testing.B) {
	var cfg strings.Builder
	cfg.WriteString("git: {url: GIT, branch: main}\nregistries: [{prefix: REG, insecure: true}]\nenvironments:\n")
	files := map[string]string{}
	for e := range 20 {
		env := fmt.Sprintf("env%02d", e)
		fmt.Fprintf(&cfg, "  - name: %s\n    path: envs/%s\n    images:\n", env, env)
		var k strings.Builder
		k.WriteString("images:\n")
		for i := range 5 {
			fmt.Fprintf(&cfg, "      - {image: REG/team/app%d, kustomizeName: app%d}\n", i, i)
			fmt.Fprintf(&k, "  - name: app%d\n    newTag: 1.0.0\n", i)
		}
		files["envs/"+env+"/kustomization.yaml"] = k.String()
	}
	reg := newTestRegistry(b)
	for i := range 5 {
		reg.push(fmt.Sprintf("team/app%d", i), "0.9.0", "1.0.0")
	}
	bare := testgit.NewBare(b, files)
	c := parseConfig(b, strings.ReplaceAll(reg.expand(cfg.String()), "GIT", "file://"+bare))
	rec, err := newLoop(b, c, reg.client(), WithCacheDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := rec.Cycle(ctx)
		if err != nil || len(rep.Changes) != 0 || len(rep.Errors) != 0 {
			b.Fatalf("idle cycle: %+v %v", rep, err)
		}
	}
}

// failingRepo applies the edits to its working tree, as Publish would,
// then fails the push.
type failingRepo struct{ Repo }

func (f failingRepo) Publish(ctx context.Context, edits []gitrepo.Edit) (gitrepo.PublishResult, error) {
	for _, e := range edits {
		if _, _, err := e.Apply(ctx, f.Dir()); err != nil {
			return gitrepo.PublishResult{}, err
		}
	}
	return gitrepo.PublishResult{}, errors.New("remote hung up")
}

func TestCyclePushFailureIsReported(t *testing.T) {
	failing := func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
		r, err := OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return failingRepo{r}, nil
	}
	f := newFixture(t, twoEnvs, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "0.9.0"),
	}, WithOpener(failing))
	f.reg.push("team/app", "1.0.0")
	before := testgit.Head(t, f.bare, "main")
	rep, err := f.rec.Cycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "remote hung up") {
		t.Errorf("Cycle error = %v, want the push failure", err)
	}
	if len(rep.Changes) != 0 || len(rep.Commits) != 0 {
		t.Errorf("changes %v, commits %v: nothing reached the remote", rep.Changes, rep.Commits)
	}
	var got []string
	for _, e := range rep.Errors {
		got = append(got, e.Env+"|"+strings.TrimPrefix(e.Image, f.reg.host+"/"))
	}
	if diff := cmp.Diff([]string{"staging|team/app", "production|team/app", "|"}, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s\n%+v", diff, rep.Errors)
	}
	if after := testgit.Head(t, f.bare, "main"); after != before {
		t.Errorf("remote moved")
	}
	// The next cycle starts from the remote again and goes through.
	f.rec.o.open = OpenGit
	rep, err = f.rec.Cycle(context.Background())
	if err != nil || len(rep.Commits) != 2 {
		t.Errorf("next cycle: %v, %+v", err, rep)
	}
}
