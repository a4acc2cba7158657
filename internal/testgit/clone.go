package testgit

import (
	"os"
	"path/filepath"
	"testing"
)

// Clone is a second, foreign working copy of a remote driven by the git CLI.
// It commits as AuthorName and pushes without force, to race the code under
// test the way another tagwatch or a human would.
type Clone struct {
	Dir string
	t   testing.TB
	git string
	env []string
}

// NewClone clones url (a path, file://, or a URL this package serves; for
// HTTP pass srv.CloneURL()) into t.TempDir() with the git CLI.
func NewClone(t testing.TB, url string) *Clone {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "foreign")
	Git(t, "", "clone", "--quiet", url, dir)
	return &Clone{Dir: dir, t: t, git: GitPath(t)}
}

// Git runs the git CLI in the clone.
func (c *Clone) Git(args ...string) string {
	c.t.Helper()
	return Git(c.t, c.Dir, args...)
}

// Write writes content to the slash-separated path in the clone's working tree.
func (c *Clone) Write(path, content string) {
	c.t.Helper()
	p := filepath.Join(c.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// CommitAndPush brings the clone to the remote's main (fetch and hard reset),
// writes content to path, commits it with message and pushes it (never
// forced). It returns the new commit. Safe to call from any goroutine as
// long as calls on one Clone do not overlap; errors are returned, not fatal,
// so it can run inside callbacks.
func (c *Clone) CommitAndPush(path, content, message string) (string, error) {
	git := c.git
	steps := [][]string{
		{"fetch", "--quiet", "origin", Branch},
		{"reset", "--quiet", "--hard", "FETCH_HEAD"},
	}
	for _, args := range steps {
		if _, err := gitRun(git, c.Dir, c.env, args...); err != nil {
			return "", err
		}
	}
	p := filepath.Join(c.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"add", "--", path},
		{"commit", "--quiet", "--allow-empty", "-m", message},
		{"push", "--quiet", "origin", "HEAD:refs/heads/" + Branch},
	} {
		if _, err := gitRun(git, c.Dir, c.env, args...); err != nil {
			return "", err
		}
	}
	return gitRun(git, c.Dir, c.env, "rev-parse", "HEAD")
}
