package testgitea_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgitea"
)

func TestMain(m *testing.M) { os.Exit(testgitea.Main(m)) }

// TestVersionMatchesBuildScript keeps Version and the version
// hack/servers/build.sh builds in step.
func TestVersionMatchesBuildScript(t *testing.T) {
	f, err := os.Open("../../hack/servers/versions.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := ""
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "GITEA_VERSION="); ok {
			got = v
		}
	}
	if got != testgitea.Version {
		t.Errorf("hack/servers/versions.env builds gitea %q, testgitea.Version is %s", got, testgitea.Version)
	}
}

const kustomization = "images:\n  - name: team/app\n    newTag: 1.0.0\n"

// seeded creates a repository holding envs/staging/kustomization.yaml on
// main.
func seeded(t *testing.T, s *testgitea.Server) testgitea.Repo {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "envs", "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "envs", "staging", "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := s.CreateRepo(t, "deploy")
	s.Seed(t, repo, dir)
	return repo
}

func clone(t *testing.T, s *testgitea.Server, repo testgitea.Repo) *git.Repository {
	t.Helper()
	r, err := git.CloneContext(context.Background(), memory.NewStorage(), memfs.New(), &git.CloneOptions{
		URL: repo.CloneURL, Auth: s.GitAuth(),
	})
	if err != nil {
		t.Fatalf("cloning %s: %v", repo.CloneURL, err)
	}
	return r
}

func readFile(t *testing.T, r *git.Repository, name string) string {
	t.Helper()
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	f, err := wt.Filesystem.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// commit commits a new kustomization on the clone's main.
func commit(t *testing.T, r *git.Repository, content string) {
	t.Helper()
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	name := "envs/staging/kustomization.yaml"
	f, err := wt.Filesystem.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "tagwatch", Email: "tagwatch@example.com", When: time.Now()}
	if _, err := wt.Commit("Bump team/app", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
}

// push pushes the clone's main to branch on the server.
func push(s *testgitea.Server, r *git.Repository, branch string) error {
	return r.PushContext(context.Background(), &git.PushOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("refs/heads/main:refs/heads/" + branch)},
		Auth:     s.GitAuth(),
	})
}

type pull struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	State  string `json:"state"`
	Head   struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Mergeable bool `json:"mergeable"`
}

func TestSeedPushAndPullRequest(t *testing.T) {
	s := testgitea.Shared(t)
	ctx := context.Background()
	repo := seeded(t, s)

	r := clone(t, s, repo)
	if got := readFile(t, r, "envs/staging/kustomization.yaml"); got != kustomization {
		t.Errorf("seeded file = %q, want %q", got, kustomization)
	}
	commit(t, r, strings.Replace(kustomization, "1.0.0", "1.1.0", 1))
	if err := push(s, r, "tagwatch/staging"); err != nil {
		t.Fatalf("pushing a branch: %v", err)
	}

	open := map[string]any{"head": "tagwatch/staging", "base": "main", "title": "Bump team/app to 1.1.0"}
	var created pull
	if err := s.Do(ctx, http.MethodPost, repo.Path()+"/pulls", open, &created); err != nil {
		t.Fatalf("opening a pull request: %v", err)
	}
	// The forge client relies on this: a second pull request for the same
	// head and base is refused with 409.
	var apiErr *testgitea.APIError
	if err := s.Do(ctx, http.MethodPost, repo.Path()+"/pulls", open, nil); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Errorf("opening the same pull request again: err = %v, want a 409 APIError", err)
	}

	var pulls []pull
	if err := s.Do(ctx, http.MethodGet, repo.Path()+"/pulls?state=open", nil, &pulls); err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Number                   int
		Title, State, Head, Base string
	}
	var got []summary
	for _, p := range pulls {
		got = append(got, summary{p.Number, p.Title, p.State, p.Head.Ref, p.Base.Ref})
	}
	want := []summary{{created.Number, "Bump team/app to 1.1.0", "open", "tagwatch/staging", "main"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("open pull requests (-want +got):\n%s", diff)
	}
}

func TestProtectedBranchTakesPullRequestsOnly(t *testing.T) {
	s := testgitea.Shared(t)
	ctx := context.Background()
	repo := seeded(t, s)
	s.ProtectBranch(t, repo, "main")
	bumped := strings.Replace(kustomization, "1.0.0", "2.0.0", 1)

	r := clone(t, s, repo)
	commit(t, r, bumped)
	if err := push(s, r, "main"); err == nil || !strings.Contains(err.Error(), "pre-receive hook declined") {
		t.Fatalf("a direct push to the protected main: err = %v, want Gitea's pre-receive hook to decline it", err)
	}
	if err := push(s, r, "bump"); err != nil {
		t.Fatalf("pushing a branch: %v", err)
	}
	var pr pull
	open := map[string]any{"head": "bump", "base": "main", "title": "Bump"}
	if err := s.Do(ctx, http.MethodPost, repo.Path()+"/pulls", open, &pr); err != nil {
		t.Fatal(err)
	}
	// Gitea checks mergeability in the background; merging before it is
	// done is refused, so retry for a while.
	merge := map[string]any{"Do": "merge"}
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = s.Do(ctx, http.MethodPost, repo.Path()+"/pulls/"+strconv.Itoa(pr.Number)+"/merge", merge, nil); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("merging the pull request: %v", err)
	}
	r = clone(t, s, repo)
	if got := readFile(t, r, "envs/staging/kustomization.yaml"); got != bumped {
		t.Errorf("main after the merge holds %q, want %q", got, bumped)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Name() != plumbing.NewBranchReferenceName("main") {
		t.Errorf("HEAD of the clone = %s, want main (the repository's default branch)", head.Name())
	}
}
