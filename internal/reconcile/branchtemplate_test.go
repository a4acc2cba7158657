package reconcile

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// renderAlias names a branch after each change: upd-<alias>-<from>-<to>.
func renderAlias(cs []plan.BranchChange) (string, error) {
	s := "upd"
	for _, c := range cs {
		s += "-" + c.Watch.Alias + "-" + c.From.Tag + "-" + c.To.Tag
	}
	return s, nil
}

// renderConst names every branch b.
func renderConst(b string) func([]plan.BranchChange) (string, error) {
	return func([]plan.BranchChange) (string, error) { return b, nil }
}

// templatedLoop is a loop over one repository whose environments are
// named in names, each in envs/<name> at 0.9.0 (idle at 1.0.0), all in
// push mode but for those given a mode in modes; the repository holds
// files too.
func templatedLoop(t testing.TB, files map[string]string, names []string, modes func(e *plan.Environment), opts ...Option) (*testRegistry, string, *Loop) {
	t.Helper()
	reg := newTestRegistry(t)
	if files == nil {
		files = map[string]string{}
	}
	cfg := "git: {url: GIT, branch: main}\nregistries: [{prefix: REG, insecure: true}]\nenvironments:\n"
	for _, n := range names {
		tag := "0.9.0"
		if n == "idle" {
			tag = "1.0.0"
		}
		files["envs/"+n+"/kustomization.yaml"] = kustomization("team/app", tag)
		cfg += "  - {name: " + n + ", path: envs/" + n + ", images: [{image: REG/team/app, alias: app, kustomizeName: team/app}]}\n"
	}
	bare := testgit.NewBare(t, files)
	set, err := plan.FromConfig(parseConfig(t, strings.ReplaceAll(reg.expand(cfg), "GIT", "file://"+bare)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set.Plans {
		for _, e := range p.Envs {
			modes(e)
		}
	}
	if err := plan.Check(set.Plans); err != nil {
		t.Fatal(err)
	}
	l, err := New(reg.client(), Static(set.Plans), append([]Option{WithCacheDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return reg, bare, l
}

// branches lists the branches of bare.
func branches(t testing.TB, bare string) []string {
	t.Helper()
	return strings.Fields(testgit.Git(t, bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/"))
}

// TestBranchTemplateCycle: an environment whose write branch is rendered
// from its changes commits them to that branch, made from main's head,
// main unchanged; a dry run says where first and writes nothing; the same
// changes go to the same branch (made again when main moved, else left:
// nothing pushed); a newer tag goes to another branch and the first
// stays. Renders refused fail their environment only: the base
// branch, another environment's write branch, a name rendered already
// this cycle, no branch name. An environment with nothing to change makes
// no branch.
func TestBranchTemplateCycle(t *testing.T) {
	tpl := func(render func([]plan.BranchChange) (string, error)) *plan.BranchTemplate {
		return &plan.BranchTemplate{Text: "t", Render: render}
	}
	reg, bare, l := templatedLoop(t, nil, []string{"plain", "tpl", "fixed", "onbase", "thief", "twin1", "twin2", "bad", "idle"}, func(e *plan.Environment) {
		switch e.Name {
		case "tpl", "idle":
			e.Mode, e.BranchTemplate = plan.ModeBranch, tpl(renderAlias)
		case "fixed":
			e.Mode, e.Branch = plan.ModeBranch, "fixed-b"
		case "onbase":
			e.Mode, e.BranchTemplate = plan.ModeBranch, tpl(renderConst("main"))
		case "thief":
			e.Mode, e.BranchTemplate = plan.ModeBranch, tpl(renderConst("fixed-b"))
		case "twin1", "twin2":
			e.Mode, e.BranchTemplate = plan.ModeBranch, tpl(renderConst("twin"))
		case "bad":
			e.Mode, e.BranchTemplate = plan.ModeBranch, tpl(renderConst("a..b"))
		}
	})
	reg.push("team/app", "1.0.0")
	mainBefore := testgit.Head(t, bare, "main")
	ctx := context.Background()

	type where struct{ Env, To, Branch string }
	changes := func(rep Report) []where {
		var out []where
		for _, c := range rep.Changes {
			out = append(out, where{c.Env, c.To, c.Branch})
		}
		return out
	}
	wantErrs := map[string]string{
		"onbase": "it renders main, the branch the environment is based on, which tagwatch never rewrites",
		"thief":  "it renders fixed-b, which is the branch environment fixed writes of file://" + bare,
		"twin2":  "it renders twin, which is the branch environment twin1 renders of file://" + bare,
		"bad":    `"t" gives "a..b" is not a valid branch name`,
	}
	checkErrs := func(rep Report) {
		t.Helper()
		got := map[string]string{}
		for _, e := range rep.Errors {
			if !errors.Is(e.Err, plan.ErrBranchTemplate) || e.Stage != StageConfig {
				t.Errorf("error %+v: want a config error wrapping plan.ErrBranchTemplate", e)
			}
			got[e.Env] = e.Error
		}
		for env, want := range wantErrs {
			if !strings.Contains(got[env], want) {
				t.Errorf("error of %s: %q, want %q", env, got[env], want)
			}
		}
		if len(got) != len(wantErrs) {
			t.Errorf("errors of %v, want of %v only", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(wantErrs)))
		}
	}
	want := []where{{"plain", "1.0.0", ""}, {"tpl", "1.0.0", "upd-app-0.9.0-1.0.0"}, {"fixed", "1.0.0", "fixed-b"}, {"twin1", "1.0.0", "twin"}}

	dry, err := l.Cycle(ctx, DryRun(true))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, changes(dry)); diff != "" {
		t.Errorf("dry run: changes (-want +got):\n%s", diff)
	}
	checkErrs(dry)
	if got := branches(t, bare); !slices.Equal(got, []string{"main"}) {
		t.Errorf("a dry run made branches: %v", got)
	}

	rep, err := l.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, changes(rep)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	checkErrs(rep)
	if diff := cmp.Diff([]string{"fixed-b", "main", "twin", "upd-app-0.9.0-1.0.0"}, branches(t, bare)); diff != "" {
		t.Errorf("branches (-want +got):\n%s", diff)
	}
	first := testgit.Head(t, bare, "upd-app-0.9.0-1.0.0")
	if parent := testgit.Head(t, bare, first+"^"); parent != mainBefore {
		t.Errorf("the rendered branch's commit is on %s, not on main's head %s", parent, mainBefore)
	}
	if got := testgit.Show(t, bare, first, "envs/tpl/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("the rendered branch holds:\n%s", got)
	}
	if got := testgit.Show(t, bare, "main", "envs/tpl/kustomization.yaml"); !strings.Contains(got, "newTag: 0.9.0") {
		t.Errorf("main took tpl's change:\n%s", got)
	}
	if !testgit.IsAncestor(t, bare, mainBefore, "main") || len(testgit.Commits(t, bare, "main")) != 2 {
		t.Errorf("main: %v, want plain's commit alone on the seed", testgit.Subjects(t, bare, "main"))
	}

	// The same changes: the same branch, made again on main's new head
	// (plain's commit), as a fixed write branch is; then, main unmoved,
	// holding them already: nothing pushed.
	if _, err := l.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	if parent := testgit.Head(t, bare, "upd-app-0.9.0-1.0.0^"); parent != testgit.Head(t, bare, "main") {
		t.Errorf("the rendered branch is on %s, not made again on main's head", parent)
	}
	first = testgit.Head(t, bare, "upd-app-0.9.0-1.0.0")
	heads := map[string]string{}
	for _, b := range branches(t, bare) {
		heads[b] = testgit.Head(t, bare, b)
	}
	rep, err = l.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for b, h := range heads {
		if got := testgit.Head(t, bare, b); got != h {
			t.Errorf("the second cycle moved %s", b)
		}
	}
	for _, c := range rep.Changes {
		if c.Env == "tpl" && (c.Branch != "upd-app-0.9.0-1.0.0" || !c.Pending) {
			t.Errorf("second cycle: %+v, want the change pending on its branch", c)
		}
	}
	checkErrs(rep)

	// A newer tag: another branch; the first is left as it is.
	reg.push("team/app", "1.1.0")
	rep, err = l.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkErrs(rep)
	if got := testgit.Head(t, bare, "upd-app-0.9.0-1.0.0"); got != first {
		t.Errorf("the earlier branch moved")
	}
	if got := testgit.Show(t, bare, "upd-app-0.9.0-1.1.0", "envs/tpl/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("the new branch holds:\n%s", got)
	}
	// idle has a change now too: a branch of its own.
	if diff := cmp.Diff([]string{"fixed-b", "main", "twin", "upd-app-0.9.0-1.0.0", "upd-app-0.9.0-1.1.0", "upd-app-1.0.0-1.1.0"}, branches(t, bare)); diff != "" {
		t.Errorf("branches (-want +got):\n%s", diff)
	}
}

// TestBranchTemplateChangesMoved: the base moves while Publish pushes (a
// person sets tpl's tag by hand), so Publish applies again on the new
// head: tpl's changes now name another branch, and its edit fails rather
// than putting them on the branch named for the first ones; plain's
// change goes to main. The next cycle writes tpl's branch of the changes
// found then.
func TestBranchTemplateChangesMoved(t *testing.T) {
	var bare string
	moved := false
	race := func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
		r, err := OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return hookedRepo{Repo: r, before: func() {
			if moved {
				return
			}
			moved = true
			if _, err := testgit.NewClone(t, bare).CommitAndPush("envs/tpl/kustomization.yaml", kustomization("team/app", "0.9.5"), "tpl: 0.9.5 by hand"); err != nil {
				t.Error(err)
			}
		}}, nil
	}
	reg, b, l := templatedLoop(t, nil, []string{"plain", "tpl"}, func(e *plan.Environment) {
		if e.Name == "tpl" {
			e.Mode, e.BranchTemplate = plan.ModeBranch, &plan.BranchTemplate{Text: "t", Render: renderAlias}
		}
	}, WithOpener(race))
	bare = b
	reg.push("team/app", "1.0.0")
	rep, err := l.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Env != "tpl" || !strings.Contains(rep.Errors[0].Error, "the changes moved while pushing: they name branch upd-app-0.9.5-1.0.0 now, not upd-app-0.9.0-1.0.0") {
		t.Errorf("errors %+v, want tpl's: its changes moved", rep.Errors)
	}
	if got := testgit.Show(t, bare, "main", "envs/plain/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("plain's change is not on main:\n%s", got)
	}
	if _, err := l.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testgit.Show(t, bare, "upd-app-0.9.5-1.0.0", "envs/tpl/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("the next cycle's branch holds:\n%s", got)
	}
}

// BenchmarkBranchTemplateCycle is the cost a write-branch template adds to
// a cycle: the environment applied once more, on the working tree with its
// files put back (Repo.Try), to name its branch (renderBranches). A
// repository of 2,000 files of 1 KiB (20 folders of 100, an overlay
// repository) and one environment whose change waits on its branch: each
// cycle finds it there and pushes nothing. fixed is the same environment
// with a fixed write branch, for comparison. On the 2-core go machine:
// fixed 63 ms, template 71 ms a cycle; applying to a scratch copy of the
// tree instead (as DryRun does) took 930 ms, the copy's file creations.
func BenchmarkBranchTemplateCycle(b *testing.B) {
	files := map[string]string{}
	for i := range 2000 {
		files[testgit.LargePath(i)] = strings.Repeat("x", 1023) + "\n"
	}
	for _, bc := range []struct {
		name string
		mode func(e *plan.Environment)
	}{
		{"fixed", func(e *plan.Environment) { e.Mode, e.Branch = plan.ModeBranch, "upd" }},
		{"template", func(e *plan.Environment) {
			e.Mode, e.BranchTemplate = plan.ModeBranch, &plan.BranchTemplate{Text: "t", Render: renderAlias}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg, bare, l := templatedLoop(b, files, []string{"tpl"}, bc.mode)
			reg.push("team/app", "1.0.0")
			ctx := context.Background()
			if rep, err := l.Cycle(ctx); err != nil || len(rep.Errors) > 0 || len(branches(b, bare)) != 2 {
				b.Fatalf("first cycle: %v %+v, branches %v", err, rep.Errors, branches(b, bare))
			}
			for b.Loop() {
				if rep, err := l.Cycle(ctx); err != nil || len(rep.Errors) > 0 || len(rep.Changes) != 1 || !rep.Changes[0].Pending {
					b.Fatalf("cycle: %v %+v %+v", err, rep.Errors, rep.Changes)
				}
			}
		})
	}
}
