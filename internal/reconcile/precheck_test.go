package reconcile

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/gate"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/policy"
)

var errSecretGone = errors.New("reading Secret argocd/creds: not found")

// TestPrecheckFailsItsEnvironmentAlone: an environment whose precondition
// fails is reported with that error as its own (Stage git) and left out
// of the cycle; the others of its repository commit in the same push. When
// every environment fails its precondition the repository is not opened
// (its credentials not even read) and the cycle fails. An environment
// promoted from one that fails is still ordered and gated (the repository
// does not fail on its order).
func TestPrecheckFailsItsEnvironmentAlone(t *testing.T) {
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return errSecretGone }
	for _, tc := range []struct {
		name      string
		prechecks map[string]func(context.Context) error // by environment; absent: none
		gated     bool                                   // c is promoted from b
		changes   []string
		held      []string
		errs      []string // env: error
		opened    bool
		cycleErr  bool
	}{
		{name: "none fails", prechecks: map[string]func(context.Context) error{"b": ok},
			changes: []string{"a", "b", "c"}, opened: true},
		{name: "one fails", prechecks: map[string]func(context.Context) error{"b": bad, "c": ok},
			changes: []string{"a", "c"}, errs: []string{"b: " + errSecretGone.Error()}, opened: true},
		{name: "one fails, another is promoted from it", prechecks: map[string]func(context.Context) error{"b": bad}, gated: true,
			changes: []string{"a"}, held: []string{"c"}, errs: []string{"b: " + errSecretGone.Error()}, opened: true},
		{name: "all fail", prechecks: map[string]func(context.Context) error{"a": bad, "b": bad, "c": bad},
			errs: []string{"a: " + errSecretGone.Error(), "b: " + errSecretGone.Error(), "c: " + errSecretGone.Error()}, cycleErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newTestRegistry(t)
			image := reg.host + "/team/app"
			files := map[string]string{}
			for _, e := range []string{"a", "b", "c"} {
				files["envs/"+e+"/kustomization.yaml"] = kustomization(image, "1.0.0")
			}
			bare := testgit.NewBare(t, files)
			reg.push("team/app", "1.0.0", "1.1.0")
			pol, err := policy.New(policy.Spec{})
			if err != nil {
				t.Fatal(err)
			}
			var opened atomic.Int32
			p := &plan.Plan{Repo: plan.Repo{URL: "file://" + bare, Branch: "main", Auth: func(context.Context) (gitrepo.Auth, error) {
				opened.Add(1)
				return gitrepo.Auth{}, nil
			}}}
			for _, e := range []string{"a", "b", "c"} {
				env := &plan.Environment{Name: e, Path: "envs/" + e, Precheck: tc.prechecks[e],
					Watches: []*plan.Watch{{Image: image, Key: plan.Normalize(image), Alias: "app", Policy: pol}}}
				if e == "c" && tc.gated {
					env.Gate = &gate.Gate{From: "b"}
				}
				p.Envs = append(p.Envs, env)
			}
			loop, err := New(reg.client(), Static{p}, WithCacheDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := loop.Cycle(context.Background())
			if (err != nil) != tc.cycleErr || err != nil && !errors.Is(err, errSecretGone) {
				t.Errorf("cycle error %v, want one: %v", err, tc.cycleErr)
			}
			var changes, held, errs []string
			for _, c := range rep.Changes {
				changes = append(changes, c.Env)
			}
			for _, c := range rep.Held {
				held = append(held, c.Env)
			}
			for _, e := range rep.Errors {
				errs = append(errs, e.Env+": "+e.Error)
				if e.Stage != StageGit || !errors.Is(e.Err, errSecretGone) || e.Repository != p.Repo.Display() {
					t.Errorf("error %+v: want the precondition's, Stage git, of the repository", e)
				}
			}
			slices.Sort(changes)
			slices.Sort(held)
			for what, d := range map[string][2][]string{"changes": {tc.changes, changes}, "held": {tc.held, held}, "errors": {tc.errs, errs}} {
				if diff := cmp.Diff(d[0], d[1]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			if got := opened.Load() > 0; got != tc.opened {
				t.Errorf("the repository's credentials read: %v, want %v", got, tc.opened)
			}
			// Nothing of an environment that failed is written; the others
			// are, one commit each in one push.
			for _, e := range []string{"a", "b", "c"} {
				want := kustomization(image, "1.0.0")
				if slices.Contains(tc.changes, e) {
					want = kustomization(image, "1.1.0")
				}
				if got := testgit.Show(t, bare, "main", "envs/"+e+"/kustomization.yaml") + "\n"; got != want {
					t.Errorf("envs/%s:\n%s\nwant:\n%s", e, got, want)
				}
			}
			if got := len(testgit.Subjects(t, bare, "main")); got != 1+len(tc.changes) {
				t.Errorf("%d commits, want the seed and %d", got, len(tc.changes))
			}
		})
	}
}

// TestRollbackChecksThePrecondition: a rollback of an environment whose
// precondition fails is refused with that error, before its repository is
// opened.
func TestRollbackChecksThePrecondition(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.host + "/team/app"
	bare := testgit.NewBare(t, map[string]string{"envs/a/kustomization.yaml": kustomization(image, "1.0.0")})
	pol, err := policy.New(policy.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int32
	p := &plan.Plan{Repo: plan.Repo{URL: "file://" + bare, Branch: "main", Auth: func(context.Context) (gitrepo.Auth, error) {
		opened.Add(1)
		return gitrepo.Auth{}, nil
	}}, Envs: []*plan.Environment{{Name: "a", Path: "envs/a", Precheck: func(context.Context) error { return errSecretGone },
		Watches: []*plan.Watch{{Image: image, Key: plan.Normalize(image), Alias: "app", Policy: pol}}}}}
	loop, err := New(reg.client(), Static{p}, WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = loop.Rollback(context.Background(), RollbackRequest{Env: "a", Image: image, To: "0.9.0"})
	if !errors.Is(err, errSecretGone) || opened.Load() != 0 {
		t.Errorf("rollback: %v (credentials read %d times), want the precondition's error before opening", err, opened.Load())
	}
}
