package reconcile

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
)

// TestCycleSelectionMemo: a cycle ranks each (image, policy) once and
// decides each value in Git once, and shares nothing more. Five
// environments watch one image: two policies share it, two values in Git
// share one of them, and one more environment differs from another only in
// allowDowngrade. Each gets the outcome of its own policy and value.
func TestCycleSelectionMemo(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - {name: staging, path: envs/staging, images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0-0"}]}
  - {name: prod-us, path: envs/prod-us, images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0"}]}
  - {name: prod-eu, path: envs/prod-eu, images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0"}]}
  - {name: canary, path: envs/canary, images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0"}]}
  - {name: rollback, path: envs/rollback, images: [{image: REG/team/app, kustomizeName: team/app, constraint: ">=1.0.0", allowDowngrade: true}]}
`
	f := newFixture(t, cfg, map[string]string{
		"envs/staging/kustomization.yaml":  kustomization("team/app", "0.9.0"),
		"envs/prod-us/kustomization.yaml":  kustomization("team/app", "0.9.0"),
		"envs/prod-eu/kustomization.yaml":  kustomization("team/app", "0.9.0"),
		"envs/canary/kustomization.yaml":   kustomization("team/app", "2.0.0"),
		"envs/rollback/kustomization.yaml": kustomization("team/app", "2.0.0"),
	})
	f.reg.push("team/app", "1.0.0")
	f.reg.push("team/app", "1.1.0-rc.1")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct{ From, To string }
	got := map[string]outcome{}
	for _, c := range rep.Changes {
		got[c.Env] = outcome{c.From, c.To}
	}
	for _, h := range rep.Held {
		got[h.Env+" (held)"] = outcome{h.From, h.To}
	}
	want := map[string]outcome{
		"staging":       {"0.9.0", "1.1.0-rc.1"},
		"prod-us":       {"0.9.0", "1.0.0"},
		"prod-eu":       {"0.9.0", "1.0.0"},
		"canary (held)": {"2.0.0", "1.0.0"},
		"rollback":      {"2.0.0", "1.0.0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %+v", rep.Errors)
	}
	if n := f.src.lists[f.reg.host+"/team/app"]; n != 1 {
		t.Errorf("listed %d times, want once", n)
	}
	for _, h := range rep.Held {
		if want := `The tag in Git, "2.0.0", ranks above the best candidate "1.0.0" under semver ">=1.0.0", so it is held (set allowDowngrade to go down).`; h.Reason != want {
			t.Errorf("held reason %q, want %q", h.Reason, want)
		}
	}
}

// TestChooseRanksOncePerImageAndPolicy: watches of one image under equal
// specs (compiled apart, as config does per environment) share one
// ranking; each value in Git is decided once; another spec ranks apart.
func TestChooseRanksOncePerImageAndPolicy(t *testing.T) {
	compile := func(spec policy.Spec) *policy.Policy {
		p, err := policy.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	stable := policy.Spec{Strategy: policy.Semver, Constraint: ">=1.0.0"}
	watches := []*plan.Watch{
		{Image: "r/app", Policy: compile(stable)},
		{Image: "r/app", Policy: compile(stable)},
		{Image: "r/app", Policy: compile(stable)},
		{Image: "r/app", Policy: compile(policy.Spec{Strategy: policy.Semver, Constraint: ">=1.0.0-0"})},
	}
	tags := []policy.Tag{{Name: "1.0.0"}, {Name: "1.1.0-rc.1"}, {Name: "0.9.0"}}
	c := &cycle{}
	for i, cur := range []string{"0.9.0", "0.9.0", "2.0.0", "0.9.0"} {
		c.choose(watches[i], tags, policy.Current{Tag: cur})
	}
	if n := len(c.sel.rankings); n != 2 {
		t.Errorf("%d rankings, want 2 (one per image and spec)", n)
	}
	if n := len(c.sel.results); n != 3 {
		t.Errorf("%d decisions, want 3 (one per ranking and value in Git)", n)
	}
	if got := c.choose(watches[1], tags, policy.Current{Tag: "0.9.0"}); got.Tag != "1.0.0" {
		t.Errorf("the memoised decision picks %q, want 1.0.0", got.Tag)
	}
	if got := c.choose(watches[3], tags, policy.Current{Tag: "0.9.0"}); got.Tag != "1.1.0-rc.1" {
		t.Errorf("the other spec's decision picks %q, want 1.1.0-rc.1", got.Tag)
	}
}
