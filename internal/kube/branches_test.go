package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestWriteBranchClashes: write branches that clash only across
// Applications of one repository (Publish refuses the whole repository
// for them) leave out the Application at fault with InvalidAnnotations;
// the others of the repository keep updating. Two Applications writing
// image-updater: the one created first keeps it. One writing main, the
// branch it is based on. One based on release writing main, which others
// commit to. A third writing main directly still updates.
func TestWriteBranchClashes(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	files := map[string]string{}
	for _, dir := range []string{"a", "b", "c", "d", "e"} {
		files[dir+"/kustomization.yaml"] = "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	}
	bare := testgit.NewBare(t, files)
	testgit.Git(t, bare, "branch", "release", "main")
	url := "file://" + bare
	ann := func(branch string) map[string]string {
		a := map[string]string{iu + "image-list": "app=" + img, iu + "write-back-target": "kustomization"}
		if branch != "" {
			a[iu+"git-branch"] = branch
		}
		return a
	}
	w.application("first", ann("main:image-updater"), source(url, "a"))
	w.waitApps("first") // created first: it keeps image-updater
	w.application("second", ann("main:image-updater"), source(url, "b"))
	w.application("third", ann(""), source(url, "c"))
	w.application("onbase", ann("main:main"), source(url, "d"))
	release := source(url, "e")
	release["targetRevision"] = "release"
	w.application("fromrelease", ann("release:main"), release)
	w.waitApps("second", "third", "onbase", "fromrelease")
	mainBefore := testgit.Head(t, bare, "main")

	sum := w.cycle(w.loop())
	want := []string{"first 1.0.0->1.1.0 a/kustomization.yaml", "third 1.0.0->1.1.0 c/kustomization.yaml"}
	if diff := cmp.Diff(want, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if len(sum.Report.Errors) != 0 {
		t.Errorf("errors: %v", errorsOf(sum))
	}
	if got := testgit.Show(t, bare, "image-updater", "a/kustomization.yaml"); !strings.Contains(got, "1.1.0") {
		t.Errorf("image-updater holds first's change:\n%s", got)
	}
	if got := testgit.Show(t, bare, "image-updater", "b/kustomization.yaml"); !strings.Contains(got, "1.0.0") {
		t.Errorf("second wrote image-updater too:\n%s", got)
	}
	if got := testgit.Show(t, bare, "main", "c/kustomization.yaml"); !strings.Contains(got, "1.1.0") {
		t.Errorf("third's change is not on main:\n%s", got)
	}
	if !testgit.IsAncestor(t, bare, mainBefore, "main") {
		t.Errorf("main was rewritten")
	}
	w.waitEvent("second", ReasonInvalidAnnotations, iu+"git-branch: the write branch image-updater of "+url+" is already written by Application "+w.ns+"/first")
	w.waitEvent("onbase", ReasonInvalidAnnotations, iu+"git-branch: environment onbase writes to branch main, the repository's own branch")
	w.waitEvent("fromrelease", ReasonInvalidAnnotations, iu+"git-branch: the write branch main of "+url+" is the branch Application "+w.ns+"/")
	for _, app := range []string{"first", "third"} {
		for _, e := range w.events(app) {
			if strings.Contains(e, ReasonInvalidAnnotations) || strings.Contains(e, ReasonImageUpdateFailed) {
				t.Errorf("%s: %s", app, e)
			}
		}
	}
}

// TestWriteBranchOfConfigAndPullRequest: a config environment in
// pull-request mode owns tagwatch/<name>: an Application asking for that
// write branch is left out. An Application in pull-request mode whose
// environment name makes no branch name (tagwatch/app.lock) is left out
// by plan.Check's rule. An Application writing the branch a config
// environment commits to is left out however it spells the repository
// (https://host:443/org/app for https://host/org/app.git, scp-like for
// ssh://, a home-relative scp path: maybe the same repository, refused).
// The others of the repository stay.
func TestWriteBranchOfConfigAndPullRequest(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	f := &plan.Forge{Kind: "gitea", URL: "https://git.example.com", Token: token}
	s := &Source{apps: map[string]*appState{}}
	if err := WithWriteDefaults(nil, f, "")(&s.o); err != nil {
		t.Fatal(err)
	}
	cfgForge := *f
	cfgForge.Repository = "platform/deploy"
	const infraURL = "ssh://git@git.example.com/platform/infra.git"
	s.base = []*plan.Plan{{
		Repo: plan.Repo{URL: repoURL, Branch: "main", Forge: &cfgForge},
		Envs: []*plan.Environment{{Name: "prod", Path: "prod", Mode: plan.ModePullRequest, Origin: "tagwatch.yaml: environments[0]"}},
	}, {
		Repo: plan.Repo{URL: infraURL, Branch: "main"},
		Envs: []*plan.Environment{{Name: "infra", Path: "infra", Origin: "tagwatch.yaml: environments[1]"}},
	}}
	add := func(name string, ann map[string]string, srcs ...AppSource) {
		ann[iu+"image-list"] = "registry.example.com/team/app"
		a := testApp(ann, srcs...)
		a.Name = name
		tg, errs := Parse(a, func() *App { return a })
		if len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		s.apps[a.Key()] = &appState{app: a, target: tg}
	}
	add("thief", map[string]string{iu + "git-branch": "main:tagwatch/prod"})
	add("locked", map[string]string{OwnPrefix + "mode": "pull-request", OwnPrefix + "environment": "app.lock"})
	add("plain", map[string]string{})
	const port443 = "https://git.example.com:443/platform/deploy"
	add("port443", map[string]string{iu + "git-branch": "dev:main"}, AppSource{RepoURL: port443, Path: "p"})
	const scp = "git@git.example.com:/platform/infra"
	add("scp", map[string]string{iu + "git-branch": "dev:main"}, AppSource{RepoURL: scp, Path: "s"})
	const home = "git@git.example.com:platform/infra"
	add("home", map[string]string{iu + "git-branch": "dev:main"}, AppSource{RepoURL: home, Path: "h"})
	a := s.assemble()
	onBase := func(url, origin string) []string {
		return []string{iu + "git-branch: the write branch main of " + url + " is the branch " + origin + " commits to, which tagwatch never rewrites; give this Application another write branch"}
	}
	want := map[string][]string{
		"argocd/thief":   {iu + "git-branch: the write branch tagwatch/prod of " + repoURL + " is already written by tagwatch.yaml: environments[0]; give this Application another write branch"},
		"argocd/locked":  {OwnPrefix + `mode: environment app.lock: "tagwatch/app.lock" is not a valid branch name`},
		"argocd/port443": onBase(port443, "tagwatch.yaml: environments[0]"),
		"argocd/scp":     onBase(scp, "tagwatch.yaml: environments[1]"),
		"argocd/home":    onBase(home, "tagwatch.yaml: environments[1]"),
	}
	if diff := cmp.Diff(want, a.problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	var envs []string
	for _, p := range a.plans {
		for _, e := range p.Envs {
			envs = append(envs, e.Name)
		}
	}
	if diff := cmp.Diff([]string{"prod", "plain", "infra"}, envs); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
}

// TestWriteBranchTemplate: Image Updater's git-branch base:<template> end
// to end on the real API server and a git remote. The branch
// image-updater-app-1.1.0, rendered from the change, holds tagwatch's
// commit on main's head, main unchanged, and the ImagesUpdated Event names
// it; the next cycle pushes nothing and records no ImagesUpdated; a
// newer tag goes to
// image-updater-app-1.2.0 and the first branch stays. An Application whose
// template does not parse is left out (InvalidAnnotations), one whose
// render is no branch fails alone (ImageUpdateFailed).
func TestWriteBranchTemplate(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	files := map[string]string{}
	for _, dir := range []string{"tmpl", "broken", "badname"} {
		files[dir+"/kustomization.yaml"] = "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	}
	bare := testgit.NewBare(t, files)
	url := "file://" + bare
	ann := func(branch string) map[string]string {
		a := map[string]string{iu + "image-list": "app=" + img + ":^1", iu + "write-back-target": "kustomization"}
		if branch != "" {
			a[iu+"git-branch"] = branch
		}
		return a
	}
	w.application("tmpl", ann("main:image-updater{{range .Images}}-{{.Alias}}-{{.NewTag}}{{end}}"), source(url, "tmpl"))
	w.application("broken", ann("main:image-updater{{range .Images}}"), source(url, "broken"))
	w.application("badname", ann("main:image-updater{{range .Images}} {{.NewTag}}{{end}}"), source(url, "badname"))
	w.waitApps("tmpl", "broken", "badname")
	mainBefore := testgit.Head(t, bare, "main")
	l := w.loop()

	sum := w.cycle(l)
	want := []string{"tmpl 1.0.0->1.1.0 tmpl/kustomization.yaml"}
	if diff := cmp.Diff(want, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	for _, c := range sum.Report.Changes {
		if c.Env == "tmpl" && c.Branch != "image-updater-app-1.1.0" {
			t.Errorf("tmpl's change is reported on branch %q", c.Branch)
		}
	}
	if e := errorsOf(sum); len(e) != 1 || !strings.HasPrefix(e[0], `badname: the write-branch template renders no usable branch: "image-updater{{range .Images}} {{.NewTag}}{{end}}" gives "image-updater 1.1.0" is not a valid branch name`) {
		t.Errorf("errors %v, want badname's alone", e)
	}
	first := testgit.Head(t, bare, "image-updater-app-1.1.0")
	if got := testgit.Show(t, bare, first, "tmpl/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("image-updater-app-1.1.0 holds:\n%s", got)
	}
	if parent := testgit.Head(t, bare, first+"^"); parent != mainBefore {
		t.Errorf("the branch's commit is on %s, not on main's head %s", parent, mainBefore)
	}
	if got := testgit.Subjects(t, bare, first); len(got) != 2 || !strings.Contains(got[0], "tmpl") {
		t.Errorf("image-updater-app-1.1.0: %v, want tagwatch's commit for tmpl on the seed", got)
	}
	if testgit.Head(t, bare, "main") != mainBefore {
		t.Errorf("main moved: %v", testgit.Subjects(t, bare, "main"))
	}
	w.waitEvent("tmpl", ReasonImagesUpdated, img+" 1.0.0 -> 1.1.0 (tmpl/kustomization.yaml, on branch image-updater-app-1.1.0, commit "+first[:12])
	w.waitEvent("broken", ReasonInvalidAnnotations, iu+`git-branch: the write branch template "image-updater{{range .Images}}": template: git-branch:1: unexpected EOF`)
	w.waitEvent("badname", ReasonImageUpdateFailed, `gives "image-updater 1.1.0" is not a valid branch name`)
	for _, e := range w.events("tmpl") {
		if strings.Contains(e, ReasonInvalidAnnotations) || strings.Contains(e, ReasonImageUpdateFailed) {
			t.Errorf("tmpl: %s", e)
		}
	}

	// The branch holds the change on main's head already: nothing is
	// pushed, and no ImagesUpdated is recorded again.
	w.flushEvents("tmpl")
	updated := w.eventCount("tmpl", ReasonImagesUpdated)
	sum = w.cycle(l)
	if len(sum.Pushes) != 0 || testgit.Head(t, bare, "image-updater-app-1.1.0") != first {
		t.Errorf("the second cycle pushed %+v", sum.Pushes)
	}
	if c := sum.Report.Changes; len(c) != 1 || c[0].Branch != "image-updater-app-1.1.0" || !c[0].Pending {
		t.Errorf("second cycle's changes %+v, want tmpl's pending on its branch", c)
	}
	w.flushEvents("tmpl")
	if n := w.eventCount("tmpl", ReasonImagesUpdated); updated != 1 || n != updated {
		t.Errorf("ImagesUpdated counted %d after the first cycle, %d after the idle second: want 1, 1", updated, n)
	}

	w.push("app", "1.2.0")
	sum = w.cycle(l)
	if got := testgit.Show(t, bare, "image-updater-app-1.2.0", "tmpl/kustomization.yaml"); !strings.Contains(got, "newTag: 1.2.0") {
		t.Errorf("image-updater-app-1.2.0 holds:\n%s\nerrors: %v", got, errorsOf(sum))
	}
	if testgit.Head(t, bare, "image-updater-app-1.1.0") != first {
		t.Errorf("the earlier branch image-updater-app-1.1.0 moved")
	}
	if testgit.Head(t, bare, "main") != mainBefore {
		t.Errorf("main moved: %v", testgit.Subjects(t, bare, "main"))
	}
}
