package gitrepo

import (
	"context"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// TestWalkDeepensOnce: a shallow copy is deepened as a walk needs, in a
// few fetches, and stays deep: the next cycle's walk fetches nothing more
// than the new commits.
func TestWalkDeepensOnce(t *testing.T) {
	bare := testgit.NewBareHistory(t, 20, 300)
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	if !r.isShallow() {
		t.Fatal("the copy is not shallow")
	}
	count := func(max int, stopAfter int) (int, bool) {
		n := 0
		complete, err := r.Walk(context.Background(), max, func(CommitInfo) error {
			n++
			if n == stopAfter {
				return ErrStopLog
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, complete
	}
	srv.ResetStats()
	if n, complete := count(0, 0); n != 300 || !complete {
		t.Errorf("walked %d commits (complete %v), want the 300 of the repository", n, complete)
	}
	if got := srv.Stats().UploadPack; got < 1 || got > 4 {
		t.Errorf("%d fetches to deepen 1 -> 300 commits, want a few (doubling)", got)
	}
	// A bound: the walk stops there and says history goes on.
	if n, complete := count(50, 0); n != 50 || complete {
		t.Errorf("bounded walk: %d commits, complete %v; want 50, false", n, complete)
	}
	// fn stops the walk: complete.
	if n, complete := count(0, 3); n != 3 || !complete {
		t.Errorf("stopped walk: %d commits, complete %v", n, complete)
	}
	// The next cycle: a new commit, a Sync, and the copy is still deep.
	c := testgit.NewClone(t, srv.CloneURL())
	if _, err := c.CommitAndPush("new.txt", "x\n", "new"); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(0, 0); n != 301 {
		t.Errorf("after a Sync the walk sees %d commits, want 301", n)
	}
	if got := srv.Stats().UploadPack; got != 1 {
		t.Errorf("%d fetches for a Sync and a walk of a deep copy, want 1 (the Sync)", got)
	}
	// A new process opening the cached copy keeps its depth.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(context.Background(), srv.URL, WithCacheDir(r.opts.cacheDir), WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := again.Walk(context.Background(), 0, func(CommitInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 301 {
		t.Errorf("reopened: %d commits, want 301", n)
	}
	again.Close()
}
