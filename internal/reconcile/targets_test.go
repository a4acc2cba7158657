package reconcile

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// TestWatchTargetsOnly: a watch with Targets is written there alone: not
// the kustomization of its folder, not the markers under it. A parameter
// override file that does not exist yet is created, and the value the
// environment runs (Deployed) is what the change moves from, and what no
// downgrade is measured against.
func TestWatchTargetsOnly(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.host + "/team/app"
	bare := testgit.NewBare(t, map[string]string{
		"envs/a/kustomization.yaml": kustomization("team/app", "1.0.0"),
		"envs/a/job.yaml":           "image: " + image + ":1.0.0 # {\"$tagwatch\": \"app\"}\n",
		"envs/b/kustomization.yaml": kustomization("team/app", "1.0.0"),
		"envs/c/kustomization.yaml": "resources: []\n",
	})
	reg.push("team/app", "1.0.0", "1.1.0", "2.0.0")
	pol, err := policy.New(policy.Spec{Constraint: "^1"})
	if err != nil {
		t.Fatal(err)
	}
	deployed := policy.Current{Tag: "1.0.0"}
	watch := func(targets ...writeback.Target) *plan.Watch {
		return &plan.Watch{Image: image, Key: plan.Normalize(image), Alias: "app", Policy: pol, Targets: targets,
			Deployed: func() (policy.Current, bool) { return deployed, true }}
	}
	p := &plan.Plan{Repo: plan.Repo{URL: "file://" + bare, Branch: "main"}, Envs: []*plan.Environment{
		{Name: "a", Path: "envs/a", Watches: []*plan.Watch{watch(writeback.Target{Kind: writeback.ArgoSource, Path: "envs/a/.argocd-source-a.yaml", Name: "team/app"})}},
		{Name: "b", Path: "envs/b", Watches: []*plan.Watch{watch(writeback.Target{Kind: writeback.Kustomize, Path: "envs/c", Name: "team/app"})}},
	}}
	loop, err := New(reg.client(), Static{p}, WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loop.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rep.Changes {
		got = append(got, c.Env+" "+c.From+"->"+c.To+" "+c.File)
	}
	want := []string{
		"a 1.0.0->1.1.0 envs/a/.argocd-source-a.yaml",
		"b 1.0.0->1.1.0 envs/c/kustomization.yaml", // added to envs/c, not envs/b; from what runs
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %+v", diff, rep.Errors)
	}
	if got, want := testgit.Show(t, bare, "main", "envs/a/.argocd-source-a.yaml"), "kustomize:\n  images:\n  - team/app="+image+":1.1.0"; got != want {
		t.Errorf("override file:\n%s\nwant:\n%s", got, want)
	}
	if got := testgit.Show(t, bare, "main", "envs/a/job.yaml"); got != "image: "+image+":1.0.0 # {\"$tagwatch\": \"app\"}" {
		t.Errorf("the marker was written: %s", got)
	}
	if got := testgit.Show(t, bare, "main", "envs/b/kustomization.yaml") + "\n"; got != kustomization("team/app", "1.0.0") {
		t.Errorf("envs/b's own kustomization was written:\n%s", got)
	}

	// Git's value wins over Deployed once the file holds one: a deployed
	// value above it is not a reason to hold.
	deployed = policy.Current{Tag: "1.9.9"}
	rep, err = loop.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes)+len(rep.Held)+len(rep.Errors) != 0 {
		t.Errorf("second cycle: %+v", rep)
	}
}

// TestWatchTargetsDeployedHolds: with no value in Git, the value that runs
// is the current one, so a deployed tag above every candidate is held, not
// downgraded.
func TestWatchTargetsDeployedHolds(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.host + "/team/app"
	bare := testgit.NewBare(t, map[string]string{"envs/a/kustomization.yaml": "resources: []\n"})
	reg.push("team/app", "1.0.0")
	pol, err := policy.New(policy.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	w := &plan.Watch{Image: image, Key: plan.Normalize(image), Alias: "app", Policy: pol,
		Targets:  []writeback.Target{{Kind: writeback.ArgoSource, Path: "envs/a/.argocd-source-a.yaml", TagField: "image.tag"}},
		Deployed: func() (policy.Current, bool) { return policy.Current{Tag: "1.5.0"}, true }}
	p := &plan.Plan{Repo: plan.Repo{URL: "file://" + bare, Branch: "main"}, Envs: []*plan.Environment{{Name: "a", Path: "envs/a", Watches: []*plan.Watch{w}}}}
	loop, err := New(reg.client(), Static{p}, WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loop.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Held) != 1 || rep.Held[0].From != "1.5.0" || len(rep.Changes) != 0 {
		t.Errorf("report: %+v", rep)
	}
}
