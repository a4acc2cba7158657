package gitseed

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
)

func TestInit(t *testing.T) {
	t.Setenv("PATH", "") // no git CLI: the demo runs without one
	base := t.TempDir()
	dir, bare := filepath.Join(base, "seed"), filepath.Join(base, "deploy.git")
	want := map[string]string{
		"base/kustomization.yaml":         "resources: [deployment.yaml]\n",
		"envs/staging/kustomization.yaml": "resources: [../../base]\n",
		"README.md":                       "# deploy\n",
	}
	for p, content := range want {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	when := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	who := object.Signature{Name: "Platform Team", Email: "platform@example.com", When: when}
	if err := Init(bare, dir, "seed the overlays", who); err != nil {
		t.Fatal(err)
	}

	r, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Worktree(); err != git.ErrIsBareRepository {
		t.Errorf("Worktree() = %v, want ErrIsBareRepository", err)
	}
	if _, err := os.Stat(filepath.Join(bare, "index")); !os.IsNotExist(err) {
		t.Errorf("the bare repository has an index (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); !os.IsNotExist(err) {
		t.Errorf("the work tree got a .git (%v)", err)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Name() != plumbing.NewBranchReferenceName(Branch) {
		t.Errorf("HEAD is %s, want branch %s", head.Name(), Branch)
	}
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if c.Message != "seed the overlays" || c.NumParents() != 0 || c.Author.Name != who.Name || c.Committer.Email != who.Email || !c.Author.When.Equal(when) {
		t.Errorf("commit: %q by %s <%s> at %s (committer %s), %d parents", c.Message, c.Author.Name, c.Author.Email, c.Author.When, c.Committer.Email, c.NumParents())
	}
	got := map[string]string{}
	files, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	if err := files.ForEach(func(f *object.File) error {
		s, err := f.Contents()
		got[f.Name] = s
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("committed files (-want +got):\n%s", diff)
	}

	if err := Init(bare, dir, "again", who); err == nil {
		t.Error("Init over an existing repository: no error")
	}
}

// TestInitReadByGit: the git CLI, where installed, reads the repository as
// any bare repository (fsck clean, the files on main).
func TestInitReadByGit(t *testing.T) {
	gitCLI, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git CLI not installed")
	}
	base := t.TempDir()
	dir, bare := filepath.Join(base, "seed"), filepath.Join(base, "deploy.git")
	if err := os.MkdirAll(filepath.Join(dir, "envs", "prod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "envs", "prod", "kustomization.yaml"), []byte("images: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Init(bare, dir, "seed", object.Signature{Name: "bench", Email: "bench@example.com"}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(gitCLI, append([]string{"--git-dir", bare}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("fsck", "--strict")
	names := strings.Fields(run("ls-tree", "-r", "--name-only", "main"))
	sort.Strings(names)
	if diff := cmp.Diff([]string{"envs/prod/kustomization.yaml"}, names); diff != "" {
		t.Errorf("ls-tree main (-want +got):\n%s", diff)
	}
}
