package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/rollback"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/writeback"
)

const stagingAndGatedProduction = `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
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

// stagingTook110 is stagingAndGatedProduction with staging and production
// at 1.0.0 and 1.1.0 pushed (its digest returned); with cycle, after one
// cycle (staging on 1.1.0).
func stagingTook110(t *testing.T, cycle bool) (*fixture, gateFixture, string) {
	t.Helper()
	f := newFixture(t, stagingAndGatedProduction, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "1.0.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "1.0.0"),
	})
	g := gateFixture{f, t}
	f.reg.push("team/app", "1.0.0")
	d1 := f.reg.push("team/app", "1.1.0")
	if cycle {
		if moved, _ := g.cycle(); len(moved) != 1 || moved[0] != "staging 1.0.0->1.1.0" {
			t.Fatalf("the first cycle moved %v; want staging to 1.1.0", moved)
		}
	}
	return f, g, d1
}

// TestRollbacksStick: a person's rollback is a fact tagwatch honours: the
// digest is held in that environment (under any tag) and in the
// environment promoted from it, until a newer image comes; tagwatch
// rollback and --clear round-trip; history shows them.
func TestRollbacksStick(t *testing.T) {
	f, g, d1 := stagingTook110(t, false)
	short1 := d1[:len("sha256:")+12] + "…"
	image := f.reg.host + "/team/app"

	moved, _ := g.cycle()
	if diff := cmp.Diff([]string{"staging 1.0.0->1.1.0"}, moved); diff != "" {
		t.Fatalf("cycle 1 (-want +got):\n%s", diff)
	}
	// A person rolls staging back, by hand.
	c := testgit.NewClone(t, f.bare)
	back, err := c.CommitAndPush("envs/staging/kustomization.yaml", kustomization("team/app", "1.0.0"), "staging back to 1.0.0: 1.1.0 leaks memory")
	if err != nil {
		t.Fatal(err)
	}
	wantStaging := "rolled back in " + back[:10] + " by " + testgit.AuthorName + " (1.1.0, " + short1 + ")"
	wantProduction := "rolled back in staging in " + back[:10] + " by " + testgit.AuthorName + " (1.1.0, " + short1 + ")"
	for i := range 2 {
		moved, held := g.cycle()
		if len(moved) != 0 || held["staging"] != wantStaging || held["production"] != wantProduction {
			t.Errorf("cycle %d after the rollback: moved %v, held %q\nwant staging %q\nproduction %q", i, moved, held, wantStaging, wantProduction)
		}
	}
	// The same image under another tag is still held.
	f.reg.retag("team/app", "1.1.0", "1.1.1")
	if moved, held := g.cycle(); len(moved) != 0 || held["staging"] != wantStaging {
		t.Errorf("after the retag: moved %v, held %q", moved, held)
	}
	// A newer image moves staging again.
	d2 := f.reg.push("team/app", "1.2.0")
	if moved, _ := g.cycle(); !cmp.Equal([]string{"staging 1.0.0->1.2.0"}, moved) {
		t.Errorf("1.2.0: moved %v", moved)
	}

	// tagwatch rollback: back to the value before tagwatch's last change.
	rep, err := f.rec.Rollback(context.Background(), RollbackRequest{Env: "staging", Image: image})
	if err != nil || len(rep.Commits) != 1 || rep.Changes[0].From != "1.2.0" || rep.Changes[0].To != "1.0.0" || rep.Changes[0].Digest != d2 {
		t.Fatalf("Rollback = %+v, %v", rep, err)
	}
	msg := testgit.Git(t, f.bare, "log", "-1", "--format=%B", "main")
	wantTrailer := "Tagwatch-Rollback: env=staging image=" + image + " from=1.2.0 to=1.0.0 digest=" + d2
	if !strings.Contains(msg, wantTrailer) || !strings.HasPrefix(msg, "tagwatch(staging): roll back "+image+" 1.2.0 -> 1.0.0") {
		t.Errorf("rollback commit:\n%s\nwant trailer %s", msg, wantTrailer)
	}
	if got := f.show(t, "envs/staging/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0 # kept by tagwatch") {
		t.Errorf("staging after the rollback:\n%s", got)
	}
	if moved, held := g.cycle(); len(moved) != 0 || !strings.HasPrefix(held["staging"], "rolled back in "+rep.Commits[0][:10]+" by tagwatch (1.2.0") {
		t.Errorf("after tagwatch rollback: moved %v, held %q", moved, held)
	}
	// Nothing more to roll back to the same value.
	if _, err := f.rec.Rollback(context.Background(), RollbackRequest{Env: "staging", Image: image, To: "1.0.0"}); err == nil {
		t.Error("a rollback to the value in Git succeeded")
	}

	// --clear lifts both rollbacks: staging takes 1.2.0 again.
	rep, err = f.rec.Rollback(context.Background(), RollbackRequest{Env: "staging", Image: image, Clear: true})
	if err != nil || len(rep.Commits) != 1 {
		t.Fatalf("Rollback --clear = %+v, %v", rep, err)
	}
	msg = testgit.Git(t, f.bare, "log", "-1", "--format=%B", "main")
	if !strings.HasPrefix(msg, "tagwatch(staging): clear 2 rollbacks of "+image+"\n") {
		t.Errorf("the clear commit's subject does not say it clears both:\n%s", msg)
	}
	for _, d := range []string{d1, d2} {
		if !strings.Contains(msg, "Tagwatch-Rollback-Cleared: env=staging image="+image+" digest="+d) {
			t.Errorf("clear commit lacks %s:\n%s", d, msg)
		}
	}
	if moved, _ := g.cycle(); !cmp.Equal([]string{"staging 1.0.0->1.2.0"}, moved) {
		t.Errorf("after --clear: moved %v", moved)
	}

	// history shows the rollback and the clear.
	local, err := gitrepo.OpenDir(f.bare)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := audit.History(context.Background(), local, audit.Filter{Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Kind+" "+e.From+"->"+e.To)
	}
	want := []string{"update 1.0.0->1.2.0", "cleared ->", "cleared ->", "rollback 1.2.0->1.0.0", "update 1.0.0->1.2.0", "update 1.0.0->1.1.0"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestGitRevertIsARollback: git revert of tagwatch's commit counts as a
// rollback of the digest it wrote.
func TestGitRevertIsARollback(t *testing.T) {
	f, g, d1 := stagingTook110(t, true)
	c := testgit.NewClone(t, f.bare)
	c.Git("revert", "--no-edit", "HEAD")
	c.Git("push", "--quiet", "origin", "HEAD:main")
	revert := testgit.Head(t, f.bare, "main")
	moved, held := g.cycle()
	want := "rolled back in " + revert[:10] + " by " + testgit.AuthorName + " (1.1.0, " + d1[:len("sha256:")+12] + "…)"
	if len(moved) != 0 || held["staging"] != want {
		t.Errorf("after git revert: moved %v, staging held %q, want %q", moved, held["staging"], want)
	}
	// A foreign commit that edits another field of the file is no rollback.
	f2, g2, _ := stagingTook110(t, true)
	c2 := testgit.NewClone(t, f2.bare)
	k := testgit.Show(t, f2.bare, "main", "envs/staging/kustomization.yaml") + "\nnamePrefix: staging-\n"
	if _, err := c2.CommitAndPush("envs/staging/kustomization.yaml", k, "a prefix"); err != nil {
		t.Fatal(err)
	}
	f2.reg.push("team/app", "1.1.5")
	if moved, held := g2.cycle(); !cmp.Equal([]string{"staging 1.1.0->1.1.5", "production 1.0.0->1.1.0"}, moved) {
		t.Errorf("after an unrelated edit: moved %v, held %v", moved, held)
	}
}

// TestRollbackNamesTheCommitThatMovedTheValue: after tagwatch's change, a
// person edits another field of the file, then rolls the value back: the
// reason names the second commit, the one that removed the tag.
func TestRollbackNamesTheCommitThatMovedTheValue(t *testing.T) {
	f, g, d1 := stagingTook110(t, true)
	c := testgit.NewClone(t, f.bare)
	k := testgit.Show(t, f.bare, "main", "envs/staging/kustomization.yaml")
	if _, err := c.CommitAndPush("envs/staging/kustomization.yaml", k+"\nnamePrefix: staging-\n", "a prefix"); err != nil {
		t.Fatal(err)
	}
	back, err := c.CommitAndPush("envs/staging/kustomization.yaml", kustomization("team/app", "1.0.0")+"namePrefix: staging-\n", "roll back")
	if err != nil {
		t.Fatal(err)
	}
	want := "rolled back in " + back[:10] + " by " + testgit.AuthorName + " (1.1.0, " + d1[:len("sha256:")+12] + "…)"
	if moved, held := g.cycle(); len(moved) != 0 || held["staging"] != want {
		t.Errorf("moved %v, staging held %q\nwant %q", moved, held["staging"], want)
	}
}

// TestRollbackDryRun: tagwatch rollback --dry-run says what it would
// commit and commits nothing.
func TestRollbackDryRun(t *testing.T) {
	f, _, d1 := stagingTook110(t, true)
	head := testgit.Head(t, f.bare, "main")
	rep, err := f.rec.Rollback(context.Background(), RollbackRequest{Env: "staging", Image: f.reg.host + "/team/app", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].From != "1.1.0" || rep.Changes[0].To != "1.0.0" || rep.Changes[0].Digest != d1 || len(rep.Commits) != 0 {
		t.Errorf("dry run reports %+v, want staging 1.1.0 -> 1.0.0 of %s and no commit", rep, d1)
	}
	if got := testgit.Head(t, f.bare, "main"); got != head {
		t.Errorf("a dry run moved main from %.10s to %.10s", head, got)
	}
	if got := f.show(t, "envs/staging/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("staging after a dry run:\n%s", got)
	}
}

// TestRecordKindsAreEventKinds: history.read passes audit's record kinds
// to internal/rollback as they are; the two packages must spell them alike.
func TestRecordKindsAreEventKinds(t *testing.T) {
	want := []string{audit.KindUpdate, audit.KindRollback, audit.KindCleared}
	if diff := cmp.Diff(want, []string{rollback.Update, rollback.Rollback, rollback.Cleared}); diff != "" {
		t.Errorf("rollback's kinds (-audit's +rollback's):\n%s", diff)
	}
}

func TestHoldsWord(t *testing.T) {
	for _, tc := range []struct {
		s, word string
		want    bool
	}{
		{"    newTag: 1.1.0 # kept by tagwatch", "1.1.0", true},
		{"  image: registry:5000/app:1.1.0", "1.1.0", true},
		{`  tag: "1.1.0"`, "1.1.0", true},
		{"    newTag: 1.1.0-rc.1", "1.1.0", false},
		{"    newTag: 11.1.0", "1.1.0", false},
		{"    newTag: 1.1.01", "1.1.0", false},
		{"    newTag: v1.1.0", "1.1.0", false},
		{"namePrefix: staging-", "1.1.0", false},
		{"a 1.1.0-x 1.1.0", "1.1.0", true},
		{"anything", "", false},
	} {
		if got := holdsWord(tc.s, tc.word); got != tc.want {
			t.Errorf("holdsWord(%q, %q) = %v, want %v", tc.s, tc.word, got, tc.want)
		}
	}
}

// TestRollbackRefusesASharedField: a rollback writes no field another
// environment claims too (one writer per field, as in a cycle): it is
// refused with the ConflictError, and nothing is committed.
func TestRollbackRefusesASharedField(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: all
    path: .
    images: [{image: REG/team/app}]
  - name: prod
    path: envs/prod
    images: [{image: REG/team/app, kustomizeName: team/app}]
`
	f := newFixture(t, cfg, map[string]string{
		"root.yaml":                    "image: REG/team/app:1.1.0 # {\"$tagwatch\": \"app\"}\n",
		"envs/prod/kustomization.yaml": kustomization("team/app", "1.1.0"),
		"envs/prod/deploy.yaml":        "spec:\n  image: REG/team/app:1.1.0 # {\"$tagwatch\": \"app\"}\n",
	})
	f.reg.push("team/app", "1.0.0")
	f.reg.push("team/app", "1.1.0")
	head := testgit.Head(t, f.bare, "main")
	_, err := f.rec.Rollback(context.Background(), RollbackRequest{Env: "prod", Image: f.reg.host + "/team/app", To: "1.0.0"})
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Rollback = %v, want a ConflictError", err)
	}
	if want := (writeback.Field{File: "envs/prod/deploy.yaml", Path: "line 2"}); ce.Field != want || strings.Join(ce.Envs, ",") != "all,prod" {
		t.Errorf("conflict %+v, want %v claimed by all and prod", ce, want)
	}
	if got := testgit.Head(t, f.bare, "main"); got != head {
		t.Errorf("a refused rollback moved main from %.10s to %.10s", head, got)
	}
}

// TestRollbackErrorsWrapTheirCause: a target that cannot be read fails the
// rollback (and its clearing) with an error that wraps why.
func TestRollbackErrorsWrapTheirCause(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: prod
    path: envs/prod
    images:
      - image: REG/team/app
        helm: {file: values.yaml, tag: image.tag}
`
	f := newFixture(t, cfg, map[string]string{"envs/prod/values.yaml": "image:\n  repository: REG/team/app\n"})
	for _, clear := range []bool{false, true} {
		_, err := f.rec.Rollback(context.Background(), RollbackRequest{Env: "prod", Image: f.reg.host + "/team/app", To: "1.0.0", Clear: clear})
		if !errors.Is(err, writeback.ErrNotFound) || !strings.Contains(err.Error(), "reading "+f.reg.host+"/team/app in prod: ") {
			t.Errorf("Rollback (clear %v) = %v, want reading ... in prod wrapping writeback.ErrNotFound", clear, err)
		}
	}
}

// TestRollbackAmbiguousImage: a short name that names two watches of the
// environment is refused, naming both; one that names none says so.
func TestRollbackAmbiguousImage(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main, author: {name: tagwatch, email: tw@example.com}}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: prod
    path: envs/prod
    images:
      - {image: REG/team/app, kustomizeName: team/app}
      - {image: REG/other/app, kustomizeName: other/app, alias: other}
`
	f := newFixture(t, cfg, map[string]string{"envs/prod/kustomization.yaml": kustomization("team/app", "1.1.0")})
	_, err := f.rec.Rollback(context.Background(), RollbackRequest{Env: "prod", Image: "app", To: "1.0.0"})
	want := "ambiguous image: app names " + f.reg.host + "/team/app and " + f.reg.host + "/other/app in environment prod: give the whole name"
	if !errors.Is(err, ErrAmbiguousImage) || errors.Is(err, ErrNothingToRollBack) || err.Error() != want {
		t.Errorf("Rollback(app) = %v\nwant %s", err, want)
	}
	_, err = f.rec.Rollback(context.Background(), RollbackRequest{Env: "prod", Image: "web", To: "1.0.0"})
	if !errors.Is(err, ErrNothingToRollBack) || !strings.Contains(err.Error(), `no environment "prod" watching web`) {
		t.Errorf("Rollback(web) = %v, want nothing to roll back", err)
	}
}
