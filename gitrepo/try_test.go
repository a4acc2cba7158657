package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// TestTry: a trial edit sees the base head, and the files it changed,
// added or removed are put back, also when it fails; a Publish after it
// commits from the base as if no trial had run.
func TestTry(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	r := openTest(t, "file://"+bare)
	head := r.Head()
	boom := errors.New("boom")
	for _, fail := range []error{nil, boom} {
		var seen string
		err := r.Try(context.Background(), func(_ context.Context, dir string) (string, []string, error) {
			b, _ := os.ReadFile(filepath.Join(dir, "a.yaml"))
			seen = string(b)
			os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 2\n"), 0o644)
			os.Remove(filepath.Join(dir, "b.yaml"))
			os.MkdirAll(filepath.Join(dir, "new"), 0o755)
			os.WriteFile(filepath.Join(dir, "new/c.yaml"), []byte("c: 1\n"), 0o644)
			return "trial", []string{"a.yaml", "b.yaml", "new/c.yaml"}, fail
		})
		if !errors.Is(err, fail) || fail == nil && err != nil {
			t.Errorf("Try = %v, want %v", err, fail)
		}
		if seen != "a: 1\n" {
			t.Errorf("the trial read %q, not the base head", seen)
		}
		if st := testgit.Git(t, r.Dir(), "status", "--porcelain"); st != "" {
			t.Errorf("git status after a trial (failing: %v):\n%s", fail != nil, st)
		}
		if r.Head() != head {
			t.Errorf("the trial moved the head")
		}
	}
	publish(t, r, setFile("b.yaml", "b: 2\n"))
	if got := testgit.Show(t, bare, "main", "a.yaml"); got != "a: 1" {
		t.Errorf("the remote's a.yaml is %q: the trial's change was committed", got)
	}
	if got := testgit.Show(t, bare, "main", "b.yaml"); got != "b: 2" {
		t.Errorf("the remote's b.yaml is %q", got)
	}
}
