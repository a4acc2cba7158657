package kube

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestConfigAndApplications: the config's environments (SetBase) and the
// Applications' share a repository: one working copy, one commit each,
// one push. An Application whose environment name the config has already
// is skipped with InvalidAnnotations; the config's environment of that
// name goes on.
func TestConfigAndApplications(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	seed := "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	bare := testgit.NewBare(t, map[string]string{"staging/kustomization.yaml": seed, "apps/kustomization.yaml": seed, "other/kustomization.yaml": seed})
	url := "file://" + bare
	cfg, err := config.Parse("tagwatch.yaml", []byte(`
git:
  url: `+url+`
  branch: main
environments:
  - name: staging
    path: staging
    images:
      - image: `+img+`
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.src.SetBase(set.Plans)
	w.application("apps", map[string]string{"tagwatch.dev/images": "app=" + img}, source(url, "apps"))
	w.application("staging", map[string]string{"tagwatch.dev/images": "app=" + img}, source(url, "other"))
	w.waitApps("apps", "staging")

	sum := w.cycle(w.loop())
	want := []string{"apps 1.0.0->1.1.0 apps/kustomization.yaml", "staging 1.0.0->1.1.0 staging/kustomization.yaml"}
	if diff := cmp.Diff(want, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if len(sum.Pushes) != 1 || len(sum.Report.Commits) != 2 {
		t.Errorf("pushes %+v, commits %v: want one push of two commits", sum.Pushes, sum.Report.Commits)
	}
	if got := testgit.Show(t, bare, "main", "other/kustomization.yaml"); !strings.Contains(got, "1.0.0") {
		t.Errorf("the Application named like the config's environment wrote:\n%s", got)
	}
	w.waitEvent("staging", ReasonInvalidAnnotations, `tagwatch.dev/environment: the environment name "staging" is already used by tagwatch.yaml: environments[0]`)
	if env, problems, ok := w.src.Environment(w.ns + "/staging"); !ok || env != "" || len(problems) == 0 {
		t.Errorf("the Application staging serves environment %q (problems %v, known %v), want the config's alone", env, problems, ok)
	}
}

// TestSelector: with applications.selector, an Application without the
// labels (none, or another team's) is not read at all, even with the
// images annotation.
func TestSelector(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true}, WithSelector("team=payments"))
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	seed := "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": seed, "b/kustomization.yaml": seed, "c/kustomization.yaml": seed})
	url := "file://" + bare
	ann := map[string]string{"tagwatch.dev/images": "app=" + img}
	// Made first: were they watched, the informer would have them before
	// the labelled one (the events of a namespace come in order).
	w.application("unlabelled", ann, source(url, "b"))
	w.labelledApplication("checkout", map[string]string{"team": "checkout"}, ann, source(url, "c"))
	w.labelledApplication("payments", map[string]string{"team": "payments"}, ann, source(url, "a"))
	w.waitApps("payments")
	for _, name := range []string{"unlabelled", "checkout"} {
		if _, _, ok := w.src.Environment(w.ns + "/" + name); ok {
			t.Errorf("the Source reads %s, outside the selector", name)
		}
	}
	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"payments 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
}
