package gitrepo

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	// A new process opening the cached copy, after the remote moved, keeps
	// its depth.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CommitAndPush("new.txt", "y\n", "newer"); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	again, err := Open(context.Background(), srv.URL, WithCacheDir(r.opts.cacheDir), WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := again.Walk(context.Background(), 0, func(CommitInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 302 {
		t.Errorf("reopened: %d commits, want 302", n)
	}
	if got := srv.Stats().UploadPack; got != 1 {
		t.Errorf("reopening and walking made %d fetches, want 1: the history fetched before is walked, not fetched again", got)
	}
	again.Close()
}

// TestPublishStopsBeforePushing: a ctx ended while the edits are applied
// (a lost lease, an abandoned cycle) stops Publish before its push.
func TestPublishStopsBeforePushing(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	r := openTest(t, "file://"+bare)
	before := testgit.Head(t, bare, "main")
	ctx, cancel := context.WithCancel(context.Background())
	stop := Edit{Name: "stop", Apply: func(ctx context.Context, dir string) (string, []string, error) {
		msg, files, err := setFile("a.txt", "2\n").Apply(ctx, dir)
		cancel()
		return msg, files, err
	}}
	res, err := r.Publish(ctx, []Edit{stop})
	if !errors.Is(err, context.Canceled) || res.Pushed {
		t.Errorf("Publish = %+v, %v; want context.Canceled and no push", res, err)
	}
	if after := testgit.Head(t, bare, "main"); after != before {
		t.Errorf("the remote moved")
	}
}

// TestPublishEmpty: an Empty edit commits its message without a change;
// an ordinary one without files commits nothing.
func TestPublishEmpty(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	r := openTest(t, "file://"+bare)
	note := Edit{Name: "note", Empty: true, Apply: func(context.Context, string) (string, []string, error) {
		return "record: nothing changes\n\nTagwatch-Rollback-Cleared: env=e image=i digest=d\n", nil, nil
	}}
	quiet := Edit{Name: "quiet", Apply: func(context.Context, string) (string, []string, error) { return "nothing", nil, nil }}
	res, err := r.Publish(context.Background(), []Edit{quiet, note})
	if err != nil || !res.Pushed || res.Edits[0].Commit != "" || res.Edits[1].Commit == "" {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	if got := testgit.Subjects(t, bare, "main"); len(got) != 2 || got[0] != "record: nothing changes" {
		t.Errorf("subjects %v", got)
	}
	if got := testgit.Git(t, bare, "diff", "--stat", "main~1", "main"); got != "" {
		t.Errorf("the empty commit changed files: %s", got)
	}
}

func TestContains(t *testing.T) {
	bare := testgit.NewBareHistory(t, 5, 5)
	r := openTest(t, "file://"+bare, WithDepth(0))
	head := testgit.Head(t, bare, "main")
	first := testgit.Git(t, bare, "rev-list", "--max-parents=0", "main")
	for _, tc := range []struct {
		name, revision, commit string
		want                   bool
	}{
		{"itself", head, head, true},
		{"an ancestor", head, first, true},
		{"a descendant", first, head, false},
		{"an unknown revision", "0123456789012345678901234567890123456789", head, false},
		{"an unknown commit", head, "0123456789012345678901234567890123456789", false},
	} {
		got, err := r.Contains(tc.revision, tc.commit)
		if err != nil || got != tc.want {
			t.Errorf("%s: Contains = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRemovedLines(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"k.yaml": "images:\n  - name: app\n    newTag: 1.1.0\nresources: [a, b]\n"})
	c := testgit.NewClone(t, bare)
	prefix, err := c.CommitAndPush("k.yaml", "images:\n  - name: app\n    newTag: 1.1.0\nresources: [a, b]\nnamePrefix: x-\n", "a prefix")
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.CommitAndPush("k.yaml", "resources: [a, b]\nimages:\n  - name: app\n    newTag: 1.0.0\nnamePrefix: x-\n", "roll back, and move resources up")
	if err != nil {
		t.Fatal(err)
	}
	first := testgit.Git(t, bare, "rev-list", "--max-parents=0", "main")
	r := openTest(t, "file://"+bare, WithDepth(0))
	for _, tc := range []struct {
		name, commit, file string
		want               []string
	}{
		{"an added line removes nothing", prefix, "k.yaml", nil},
		{"a changed line, a moved one kept", back, "k.yaml", []string{"    newTag: 1.1.0"}},
		{"a root commit", first, "k.yaml", nil},
		{"a file the commit did not have", back, "other.yaml", nil},
	} {
		got, err := r.RemovedLines(tc.commit, tc.file)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: RemovedLines (-want +got):\n%s", tc.name, diff)
		}
	}
}
