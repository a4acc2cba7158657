package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// onBranch is setFile going to an owned branch.
func onBranch(branch, file, content string) Edit {
	e := setFile(file, content)
	e.Name, e.Branch = branch, branch
	return e
}

// unchangedOn is an edit of an owned branch that finds nothing to change.
func unchangedOn(branch string) Edit {
	return Edit{Name: branch, Branch: branch, Apply: func(context.Context, string) (string, []string, error) { return "", nil, nil }}
}

type branchSummary struct {
	Name, Branch, Outcome string
	Err                   bool
}

func summarize(res PublishResult) []branchSummary {
	var out []branchSummary
	for _, e := range res.Edits {
		out = append(out, branchSummary{e.Name, e.Branch, e.BranchOutcome, e.Err != nil})
	}
	return out
}

// TestOwnedBranchLifecycle: an owned branch is created with one commit on
// the base head, in the same receive-pack session as the base branch's
// commits; left alone when it already holds the change; made again on a
// base that moved; deleted when nothing is left to change.
func TestOwnedBranchLifecycle(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"envs/staging/app.yaml": "tag: 1.0.0\n", "envs/production/app.yaml": "tag: 1.0.0\n"})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	base := r.Head()
	srv.ResetStats()

	res := publish(t, r, setFile("envs/staging/app.yaml", "tag: 1.1.0\n"), onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))
	want := []branchSummary{{"envs/staging/app.yaml", "", "", false}, {"tagwatch/production", "tagwatch/production", BranchCreated, false}}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Fatalf("edits (-want +got):\n%s", diff)
	}
	if st := srv.Stats(); st.ReceivePack != 1 {
		t.Errorf("%d receive-pack requests, want the base and the branch in one", st.ReceivePack)
	}
	main := testgit.Head(t, bare, "main")
	pr := testgit.Head(t, bare, "tagwatch/production")
	if pr != res.Edits[1].Commit || testgit.Head(t, bare, "tagwatch/production~1") != base {
		t.Errorf("tagwatch/production = %s (parent %s), want the edit's commit %s on the old base %s", pr, testgit.Head(t, bare, "tagwatch/production~1"), res.Edits[1].Commit, base)
	}
	if got := testgit.Show(t, bare, "main", "envs/production/app.yaml"); got != "tag: 1.0.0" {
		t.Errorf("main's production file = %q: a branch edit leaked into the base", got)
	}
	if got := testgit.Show(t, bare, "tagwatch/production", "envs/staging/app.yaml"); got != "tag: 1.0.0" {
		t.Errorf("the branch's staging file = %q: a base edit leaked into the branch", got)
	}
	if got := testgit.Show(t, bare, "tagwatch/production", "envs/production/app.yaml"); got != "tag: 1.1.0" {
		t.Errorf("the branch's production file = %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(r.Dir(), "envs/production/app.yaml")); err != nil || string(b) != "tag: 1.0.0\n" {
		t.Errorf("the working tree's production file = %q, %v: want the base's", b, err)
	}

	// The same change again: main moved (the staging commit), so the
	// branch is made again on it; once more, and nothing is pushed.
	res = publish(t, r, onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))
	if res.Edits[0].BranchOutcome != BranchUpdated || testgit.Head(t, bare, "tagwatch/production~1") != main {
		t.Errorf("same change on a new base: outcome %q, branch parent %s; want updated on %s", res.Edits[0].BranchOutcome, testgit.Head(t, bare, "tagwatch/production~1"), main)
	}
	pr = res.Edits[0].Commit
	srv.ResetStats()
	res = publish(t, r, onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))
	if res.Edits[0].BranchOutcome != BranchUnchanged || res.Edits[0].Commit != pr || res.Pushed || srv.Stats().ReceivePack != 0 {
		t.Errorf("same change: outcome %q, commit %s, pushed %v, %d pushes; want unchanged at %s, no push", res.Edits[0].BranchOutcome, res.Edits[0].Commit, res.Pushed, srv.Stats().ReceivePack, pr)
	}

	// The base moves: the branch is made again on it (a forced update of
	// tagwatch's own branch).
	foreign := testgit.NewClone(t, srv.CloneURL())
	moved, err := foreign.CommitAndPush("README.md", "moved\n", "a person's commit")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	res = publish(t, r, onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))
	if res.Edits[0].BranchOutcome != BranchUpdated || testgit.Head(t, bare, "tagwatch/production~1") != moved {
		t.Errorf("base moved: outcome %q, branch parent %s; want updated on %s", res.Edits[0].BranchOutcome, testgit.Head(t, bare, "tagwatch/production~1"), moved)
	}
	if testgit.Head(t, bare, "main") != moved {
		t.Errorf("main moved: the base branch was written")
	}

	// Nothing left to change: the branch is deleted; then it stays absent.
	res = publish(t, r, unchangedOn("tagwatch/production"))
	if res.Edits[0].BranchOutcome != BranchDeleted {
		t.Errorf("nothing to change: outcome %q, want deleted", res.Edits[0].BranchOutcome)
	}
	if _, err := testgit.GitErr(t, bare, "rev-parse", "--verify", "refs/heads/tagwatch/production"); err == nil {
		t.Errorf("tagwatch/production still exists")
	}
	res = publish(t, r, unchangedOn("tagwatch/production"))
	if res.Edits[0].BranchOutcome != BranchAbsent || res.Pushed {
		t.Errorf("nothing to change, no branch: outcome %q, pushed %v", res.Edits[0].BranchOutcome, res.Pushed)
	}
}

// TestOwnedBranchOfAnotherWriterIsKept: a branch whose head another writer
// made is neither updated nor deleted, and the edit says who.
func TestOwnedBranchOfAnotherWriterIsKept(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"envs/production/app.yaml": "tag: 1.0.0\n"})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	publish(t, r, onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))

	foreign := testgit.NewClone(t, srv.CloneURL())
	foreign.Git("fetch", "--quiet", "origin", "tagwatch/production")
	foreign.Git("checkout", "--quiet", "-b", "fix", "FETCH_HEAD")
	foreign.Write("envs/production/extra.yaml", "x: 1\n")
	foreign.Git("add", ".")
	foreign.Git("commit", "--quiet", "-m", "a reviewer's fix")
	foreign.Git("push", "--quiet", "origin", "fix:tagwatch/production")
	theirs := testgit.Head(t, bare, "tagwatch/production")

	for _, e := range []Edit{onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.2.0\n"), unchangedOn("tagwatch/production")} {
		res, err := r.Publish(context.Background(), []Edit{e})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Edits[0].Err; !errors.Is(got, ErrBranchNotOwned) || !strings.Contains(got.Error(), testgit.AuthorName) {
			t.Errorf("edit error = %v, want ErrBranchNotOwned naming %s", got, testgit.AuthorName)
		}
		if h := testgit.Head(t, bare, "tagwatch/production"); h != theirs {
			t.Errorf("the branch moved to %s: another writer's commit was overwritten", h)
		}
	}
}

// TestOwnedBranchLeaseLost: a branch that moves between the moment it was
// read and the update is not overwritten: the edit fails with ErrLeaseLost
// (not retried), and the base branch's commit still goes out.
func TestOwnedBranchLeaseLost(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"envs/staging/app.yaml": "tag: 1.0.0\n", "envs/production/app.yaml": "tag: 1.0.0\n"})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	publish(t, r, onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))
	other := testgit.NewClone(t, bare)
	var raced string
	srv.BeforeReceivePack(func() {
		other.Git("fetch", "--quiet", "origin", "tagwatch/production")
		other.Git("checkout", "--quiet", "-B", "race", "FETCH_HEAD")
		other.Git("commit", "--quiet", "--allow-empty", "-m", "racing push")
		other.Git("push", "--quiet", "origin", "race:tagwatch/production")
		raced = other.Git("rev-parse", "HEAD")
	})
	res, err := r.Publish(context.Background(), []Edit{setFile("envs/staging/app.yaml", "tag: 1.1.0\n"), onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.2.0\n")})
	if err != nil {
		t.Fatalf("Publish: %v (the base branch's commit must still go out)", err)
	}
	if got := res.Edits[1].Err; !errors.Is(got, ErrLeaseLost) {
		t.Errorf("branch edit error = %v, want ErrLeaseLost", got)
	}
	if res.Attempts != 1 {
		t.Errorf("%d attempts: a lost lease is not retried", res.Attempts)
	}
	if h := testgit.Head(t, bare, "tagwatch/production"); h != raced {
		t.Errorf("tagwatch/production = %s, want the racing push %s kept", h, raced)
	}
	if got := testgit.Show(t, bare, "main", "envs/staging/app.yaml"); got != "tag: 1.1.0" {
		t.Errorf("main's staging file = %q: the base commit did not go out", got)
	}
}

// TestOwnedBranchBesideRefusedBase: when the remote refuses the base
// branch (a hook, as a protected branch does), the owned branches are
// pushed alone, and the base's refusal is returned.
func TestOwnedBranchBesideRefusedBase(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"envs/staging/app.yaml": "tag: 1.0.0\n", "envs/production/app.yaml": "tag: 1.0.0\n"})
	hook := filepath.Join(bare, "hooks", "pre-receive")
	script := "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then echo 'main is protected' >&2; exit 1; fi\ndone\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	main := testgit.Head(t, bare, "main")
	res, err := r.Publish(context.Background(), []Edit{setFile("envs/staging/app.yaml", "tag: 1.1.0\n"), onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n")})
	if err == nil || errors.Is(err, ErrPushRejected) || !strings.Contains(err.Error(), "pre-receive hook declined") {
		t.Errorf("Publish error = %v, want the hook's refusal of main (not a rejection to retry)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "(the remote said: main is protected)") {
		t.Errorf("Publish error = %v, want the server's own words kept", err)
	}
	if testgit.Head(t, bare, "main") != main {
		t.Errorf("main moved")
	}
	if res.Edits[1].Err != nil || res.Edits[1].BranchOutcome != BranchCreated {
		t.Errorf("branch edit: %v, %q; want created", res.Edits[1].Err, res.Edits[1].BranchOutcome)
	}
	if got := testgit.Show(t, bare, "tagwatch/production", "envs/production/app.yaml"); got != "tag: 1.1.0" {
		t.Errorf("the branch's production file = %q", got)
	}
}

func TestOwnedBranchNames(t *testing.T) {
	bare := testgit.NewBare(t, nil)
	r := openTest(t, "file://"+bare)
	for _, edits := range [][]Edit{
		{onBranch("main", "a", "b")},
		{onBranch("bad..name", "a", "b")},
		{onBranch("tagwatch/x", "a", "b"), onBranch("tagwatch/x", "c", "d")},
	} {
		if _, err := r.Publish(context.Background(), edits); err == nil {
			t.Errorf("Publish with branches %q, %q: no error", edits[0].Branch, edits[len(edits)-1].Branch)
		}
	}
}

// TestDeferredBranchDelete: with DeferDelete, a branch left with nothing to
// change is kept (BranchStale, its head given) for DeleteBranch, which
// deletes it with a lease: a branch that moved meanwhile is kept.
func TestDeferredBranchDelete(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"envs/production/app.yaml": "tag: 1.0.0\n"})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	publish(t, r, onBranch("tagwatch/production", "envs/production/app.yaml", "tag: 1.1.0\n"))
	head := testgit.Head(t, bare, "tagwatch/production")
	e := unchangedOn("tagwatch/production")
	e.DeferDelete = true
	res := publish(t, r, e)
	if got := res.Edits[0]; got.BranchOutcome != BranchStale || got.Commit != head || res.Pushed {
		t.Fatalf("deferred: outcome %q, commit %s, pushed %v; want stale at %s, nothing pushed", got.BranchOutcome, got.Commit, res.Pushed, head)
	}
	if err := r.DeleteBranch(context.Background(), "tagwatch/production", "0123456789012345678901234567890123456789"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("DeleteBranch with a stale head: %v, want ErrLeaseLost", err)
	}
	if err := r.DeleteBranch(context.Background(), "tagwatch/production", head); err != nil {
		t.Fatal(err)
	}
	if _, err := testgit.GitErr(t, bare, "rev-parse", "--verify", "refs/heads/tagwatch/production"); err == nil {
		t.Errorf("tagwatch/production still exists")
	}
	if err := r.DeleteBranch(context.Background(), "tagwatch/production", head); err != nil {
		t.Errorf("DeleteBranch of a branch already gone: %v", err)
	}
	if err := r.DeleteBranch(context.Background(), "main", head); err == nil {
		t.Errorf("DeleteBranch of the base branch: no error")
	}
}
