package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/writeback"
)

// TestCycleFieldClaimedTwice: an environment at the root scans the markers
// of envs/prod, which another environment owns. The marked field both
// claim is written by neither, and reported for both; every other field
// (their own, and other environments') is written.
func TestCycleFieldClaimedTwice(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: all
    path: .
    images: [{image: REG/team/app}]
  - name: prod
    path: envs/prod
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: staging
    path: envs/staging
    images: [{image: REG/team/app, kustomizeName: team/app}]
`
	shared := "spec:\n  image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n"
	f := newFixture(t, cfg, map[string]string{
		"root.yaml":                       "image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
		"envs/prod/kustomization.yaml":    kustomization("team/app", "1.0.0"),
		"envs/prod/deploy.yaml":           shared,
		"envs/staging/kustomization.yaml": kustomization("team/app", "1.0.0"),
	})
	f.reg.push("team/app", "1.0.0", "1.1.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range rep.Changes {
		changed = append(changed, c.Env+": "+strings.Join(c.Files, ","))
	}
	want := []string{"all: root.yaml", "prod: envs/prod/kustomization.yaml", "staging: envs/staging/kustomization.yaml"}
	if diff := cmp.Diff(want, changed); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	var conflicted []string
	for _, e := range rep.Errors {
		var ce *ConflictError
		if !errors.As(e.Err, &ce) || e.Stage != StageConfig {
			t.Errorf("unexpected error %+v", e)
			continue
		}
		conflicted = append(conflicted, e.Env)
		wantField := writeback.Field{File: "envs/prod/deploy.yaml", Path: "line 2"}
		if ce.Field != wantField || strings.Join(ce.Envs, ",") != "all,prod" {
			t.Errorf("conflict %+v, want %v claimed by all and prod", ce, wantField)
		}
		if !strings.Contains(e.Error, "envs/prod/deploy.yaml (line 2) is claimed by environments all and prod") {
			t.Errorf("message %q", e.Error)
		}
	}
	if diff := cmp.Diff([]string{"all", "prod"}, conflicted); diff != "" {
		t.Errorf("conflicts reported for (-want +got):\n%s", diff)
	}
	if got := f.show(t, "envs/prod/deploy.yaml"); got != f.reg.expand(shared) {
		t.Errorf("the shared field was written:\n%s", got)
	}
	if !rep.Failed() {
		t.Error("a conflict must fail the run (exit status 1)")
	}
}
