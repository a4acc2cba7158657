// Package testgit gives tests real git remotes to talk to: bare repositories
// in t.TempDir(), the same repositories served over smart HTTP by
// `git http-backend` and over SSH by Debian's sshd, and a second, foreign
// clone driven by the git CLI that commits and pushes to race the code under
// test. Everything is torn down by t.Cleanup.
//
// A typical end-to-end test:
//
//	bare := testgit.NewBare(t, map[string]string{"envs/staging/kustomization.yaml": "..."})
//	srv := testgit.ServeHTTP(t, bare)             // or testgit.StartSSH(t), or "file://"+bare
//	repo, err := gitrepo.Open(ctx, srv.URL, gitrepo.WithAuth(srv.Auth()), ...)
//	...
//	got := testgit.Show(t, bare, "main", "envs/staging/kustomization.yaml")
package testgit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// Branch is the branch NewBare creates and points HEAD at.
const Branch = "main"

// Identity of the commits made by this package's git CLI calls.
const (
	AuthorName  = "Foreign Writer"
	AuthorEmail = "foreign@example.com"
)

// GitPath returns the git CLI, or skips (fails under CI) when it is missing.
func GitPath(t testing.TB) string {
	t.Helper()
	return testenv.LookPath(t, "Debian package git", "git")
}

// gitEnv isolates git from the user's and the system's configuration.
func gitEnv() []string {
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME="+AuthorName,
		"GIT_AUTHOR_EMAIL="+AuthorEmail,
		"GIT_COMMITTER_NAME="+AuthorName,
		"GIT_COMMITTER_EMAIL="+AuthorEmail,
		"GIT_TERMINAL_PROMPT=0",
	)
}

// Git runs the git CLI in dir (isolated from user and system config) and
// returns its standard output without the trailing newline. It fails the
// test when git fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitErr(t, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// GitErr is Git returning the error (with git's stderr) instead of failing.
func GitErr(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	return gitRun(GitPath(t), dir, nil, args...)
}

func gitRun(git, dir string, extraEnv []string, args ...string) (string, error) {
	cmd := exec.Command(git, args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &CmdError{Args: args, Err: err, Stderr: stderr.String()}
	}
	return strings.TrimRight(stdout.String(), "\n"), nil
}

// CmdError is a failed git command.
type CmdError struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *CmdError) Error() string {
	return "git " + strings.Join(e.Args, " ") + ": " + e.Err.Error() + ": " + strings.TrimSpace(e.Stderr)
}

func (e *CmdError) Unwrap() error { return e.Err }

// NewBare makes a bare repository in t.TempDir() whose branch main holds
// files (slash-separated path → content) in one commit, HEAD pointing at
// main. It returns the repository's absolute path. An empty map makes a
// repository with one commit holding a README.
func NewBare(t testing.TB, files map[string]string) string {
	t.Helper()
	if len(files) == 0 {
		files = map[string]string{"README.md": "seed\n"}
	}
	src := t.TempDir()
	for name, content := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return NewBareFromDir(t, src)
}

// NewBareWithLinks is NewBare with symbolic links too: links maps a
// slash-separated path to the link's target, committed as written (git
// stores the target text, absolute or not, whatever it points at here).
func NewBareWithLinks(t testing.TB, files, links map[string]string) string {
	t.Helper()
	base := t.TempDir()
	bare := filepath.Join(base, "remote.git")
	work := filepath.Join(base, "seed")
	Git(t, base, "init", "--quiet", "--bare", "--initial-branch="+Branch, bare)
	Git(t, base, "init", "--quiet", "--initial-branch="+Branch, work)
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "--quiet", "-m", "seed")
	Git(t, work, "push", "--quiet", bare, "HEAD:refs/heads/"+Branch)
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	return bare
}

// NewBareFromDir makes a bare repository in t.TempDir() whose branch main
// holds a copy of the files under dir in one commit. dir is not modified.
func NewBareFromDir(t testing.TB, dir string) string {
	t.Helper()
	base := t.TempDir()
	bare := filepath.Join(base, "remote.git")
	work := filepath.Join(base, "seed")
	Git(t, base, "init", "--quiet", "--bare", "--initial-branch="+Branch, bare)
	Git(t, base, "init", "--quiet", "--initial-branch="+Branch, work)
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "--quiet", "-m", "seed")
	Git(t, work, "push", "--quiet", bare, "HEAD:refs/heads/"+Branch)
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	return bare
}

// Head returns the commit ref (a branch name or any revision) is at in the
// repository dir (bare or not).
func Head(t testing.TB, dir, ref string) string {
	t.Helper()
	return Git(t, dir, "rev-parse", "--verify", ref+"^{commit}")
}

// Show returns the content of path at revision rev in the repository dir.
func Show(t testing.TB, dir, rev, path string) string {
	t.Helper()
	return Git(t, dir, "show", rev+":"+path)
}

// Subjects returns the subjects of the commits reachable from rev, newest first.
func Subjects(t testing.TB, dir, rev string) []string {
	t.Helper()
	out := Git(t, dir, "log", "--format=%s", rev)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// Commits returns the hashes of the commits reachable from rev, newest first.
func Commits(t testing.TB, dir, rev string) []string {
	t.Helper()
	out := Git(t, dir, "rev-list", rev)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) b in dir.
func IsAncestor(t testing.TB, dir, a, b string) bool {
	t.Helper()
	_, err := GitErr(t, dir, "merge-base", "--is-ancestor", a, b)
	return err == nil
}
