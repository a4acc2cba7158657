package forge_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/forge"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testgitea"
)

func TestMain(m *testing.M) { os.Exit(testgitea.Main(m)) }

// giteaRepo is a repository on the shared Gitea holding a file on main and
// a branch tagwatch/staging with one more commit.
func giteaRepo(t *testing.T) (*testgitea.Server, testgitea.Repo) {
	t.Helper()
	s := testgitea.Shared(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "envs", "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "envs", "staging", "kustomization.yaml"), []byte("images: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := s.CreateRepo(t, "forge")
	s.Seed(t, repo, dir)
	u := strings.Replace(repo.CloneURL, "http://", "http://"+testgitea.AdminUser+":"+s.Token+"@", 1)
	c := testgit.NewClone(t, u)
	c.Write("envs/staging/kustomization.yaml", "images: [{name: app, newTag: 1.1.0}]\n")
	c.Git("checkout", "--quiet", "-b", "tagwatch/staging")
	c.Git("commit", "--quiet", "-am", "tagwatch(staging): app 1.0.0 -> 1.1.0")
	c.Git("push", "--quiet", "origin", "tagwatch/staging")
	return s, repo
}

func giteaClient(t *testing.T, s *testgitea.Server, repo testgitea.Repo, token string) forge.Client {
	t.Helper()
	c, err := forge.New(forge.Gitea, repo.Owner+"/"+repo.Name, forge.WithURL(s.URL), forge.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openPulls(t *testing.T, s *testgitea.Server, repo testgitea.Repo) []int64 {
	t.Helper()
	var pulls []struct {
		Number int64 `json:"number"`
	}
	if err := s.Do(context.Background(), http.MethodGet, repo.Path()+"/pulls?state=open", nil, &pulls); err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, p := range pulls {
		out = append(out, p.Number)
	}
	return out
}

// TestGiteaPullRequestInPlace: Ensure opens one pull request, leaves it
// alone when nothing changed, updates the same one in place, never opens a
// second (also when two race), and CloseFor closes it.
func TestGiteaPullRequestInPlace(t *testing.T) {
	s, repo := giteaRepo(t)
	ctx := context.Background()
	c := giteaClient(t, s, repo, s.Token)
	spec := forge.Spec{Head: "tagwatch/staging", Base: "main", Title: "tagwatch(staging): app 1.0.0 -> 1.1.0", Body: "Moved app.\n\nTagwatch-Update: env=staging image=app from=1.0.0 to=1.1.0 digest=\n"}

	first, err := forge.Ensure(ctx, c, spec)
	if err != nil || first.Action != forge.Opened || first.PR.Number == 0 || !strings.HasPrefix(first.PR.URL, s.URL+"/") {
		t.Fatalf("first Ensure = %+v, %v; want a pull request opened", first, err)
	}
	again, err := forge.Ensure(ctx, c, spec)
	if err != nil || again.Action != forge.Unchanged || again.PR.Number != first.PR.Number {
		t.Errorf("Ensure with nothing new = %+v, %v; want #%d unchanged", again, err, first.PR.Number)
	}
	spec.Title, spec.Body = "tagwatch(staging): app 1.0.0 -> 1.2.0", "Moved app to 1.2.0.\n"
	upd, err := forge.Ensure(ctx, c, spec)
	if err != nil || upd.Action != forge.Updated || upd.PR.Number != first.PR.Number || upd.PR.Title != spec.Title {
		t.Errorf("Ensure with a new title = %+v, %v; want #%d updated in place", upd, err, first.PR.Number)
	}
	if _, err := c.Create(ctx, spec); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("Create of a second pull request for the branch: %v, want ErrConflict", err)
	}
	if got := openPulls(t, s, repo); len(got) != 1 {
		t.Errorf("open pull requests %v, want one", got)
	}
	closed, err := forge.CloseFor(ctx, c, spec.Head, spec.Base)
	if err != nil || closed.Action != forge.Closed || closed.PR.Number != first.PR.Number {
		t.Errorf("CloseFor = %+v, %v", closed, err)
	}
	if got := openPulls(t, s, repo); len(got) != 0 {
		t.Errorf("open pull requests after CloseFor: %v", got)
	}
	if none, err := forge.CloseFor(ctx, c, spec.Head, spec.Base); err != nil || none.Action != "" {
		t.Errorf("CloseFor with none open = %+v, %v; want nothing done", none, err)
	}

	// Two writers race to open it: one pull request.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = forge.Ensure(ctx, giteaClient(t, s, repo, s.Token), spec)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("racing Ensure: %v", err)
		}
	}
	if got := openPulls(t, s, repo); len(got) != 1 {
		t.Errorf("open pull requests after a race: %v, want one", got)
	}
}

// TestGiteaAutoMerge: with AutoMerge, Gitea merges the pull request once
// it can (no checks are required here).
func TestGiteaAutoMerge(t *testing.T) {
	s, repo := giteaRepo(t)
	ctx := context.Background()
	c := giteaClient(t, s, repo, s.Token)
	spec := forge.Spec{Head: "tagwatch/staging", Base: "main", Title: "tagwatch(staging): app 1.0.0 -> 1.1.0", Body: "body", AutoMerge: true}
	out, err := forge.Ensure(ctx, c, spec)
	if err != nil {
		t.Fatal(err)
	}
	// Gitea tests mergeability in the background: ask again, as the next
	// cycles would, until it merged.
	var merged bool
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !merged; time.Sleep(200 * time.Millisecond) {
		var pr struct {
			Merged bool `json:"merged"`
		}
		if err := s.Do(ctx, http.MethodGet, repo.Path()+"/pulls/"+strconv.FormatInt(out.PR.Number, 10), nil, &pr); err != nil {
			t.Fatal(err)
		}
		if merged = pr.Merged; !merged {
			if err := c.AutoMerge(ctx, out.PR); err != nil {
				t.Fatalf("AutoMerge: %v", err)
			}
		}
	}
	if !merged {
		t.Fatalf("pull request #%d was not merged", out.PR.Number)
	}
}

// TestGiteaErrors: a refused token and a missing repository are errors
// that say so, name the repository and the operation, and never show the
// token.
func TestGiteaErrors(t *testing.T) {
	s, repo := giteaRepo(t)
	ctx := context.Background()
	const bad = "0123456789abcdef0123456789abcdef01234567"
	_, err := giteaClient(t, s, repo, bad).ListOpen(ctx, "tagwatch/staging", "main")
	if !errors.Is(err, forge.ErrUnauthorized) || !strings.Contains(err.Error(), repo.Owner+"/"+repo.Name) || !strings.Contains(err.Error(), "listing open pull requests") {
		t.Errorf("bad token: %v, want ErrUnauthorized naming the repository and the operation", err)
	}
	if err != nil && strings.Contains(err.Error(), bad) {
		t.Errorf("the error shows the token: %v", err)
	}
	missing := testgitea.Repo{Owner: repo.Owner, Name: "no-such-repository"}
	if _, err := giteaClient(t, s, missing, s.Token).Create(ctx, forge.Spec{Head: "tagwatch/x", Base: "main", Title: "t"}); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing repository: %v, want ErrNotFound", err)
	}
}
