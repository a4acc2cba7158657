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
// by plan.Check's rule. The others of the repository stay.
func TestWriteBranchOfConfigAndPullRequest(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	f := &plan.Forge{Kind: "gitea", URL: "https://git.example.com", Token: token}
	s := &Source{apps: map[string]*appState{}}
	if err := WithWriteDefaults(nil, f, "")(&s.o); err != nil {
		t.Fatal(err)
	}
	cfgForge := *f
	cfgForge.Repository = "platform/deploy"
	s.base = []*plan.Plan{{
		Repo: plan.Repo{URL: repoURL, Branch: "main", Forge: &cfgForge},
		Envs: []*plan.Environment{{Name: "prod", Path: "prod", Mode: plan.ModePullRequest, Origin: "tagwatch.yaml: environments[0]"}},
	}}
	add := func(name string, ann map[string]string) {
		ann[iu+"image-list"] = "registry.example.com/team/app"
		a := testApp(ann)
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
	a := s.assemble()
	want := map[string][]string{
		"argocd/thief":  {iu + "git-branch: the write branch tagwatch/prod of " + repoURL + " is already written by tagwatch.yaml: environments[0]; give this Application another write branch"},
		"argocd/locked": {OwnPrefix + `mode: environment app.lock: "tagwatch/app.lock" is not a valid branch name`},
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
	if diff := cmp.Diff([]string{"prod", "plain"}, envs); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
}
