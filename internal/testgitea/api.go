package testgitea

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/tagwatch/tagwatch/internal/gitseed"
	"github.com/tagwatch/tagwatch/internal/testenv"
)

// APIError is a REST call answered with a status other than 2xx.
type APIError struct {
	Method, Path string
	Status       int    // HTTP status code, e.g. 409 for a duplicate pull request
	Body         string // Gitea's message, JSON
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Body)
}

// Do calls the REST API as AdminUser: method on path (below /api/v1, e.g.
// "/repos/o/r/pulls"), in encoded as the JSON body unless nil, the JSON
// answer decoded into out unless nil. A status other than 2xx is an
// *APIError.
func (s *Server) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+s.Token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

// Repo is a repository on the server.
type Repo struct {
	Owner, Name string
	CloneURL    string // http://127.0.0.1:port/owner/name.git
}

// Path is the repository's API path, "/repos/owner/name".
func (r Repo) Path() string { return "/repos/" + r.Owner + "/" + r.Name }

// GitAuth returns basic auth for git over HTTP as AdminUser, with the access
// token as password.
func (s *Server) GitAuth() *githttp.BasicAuth {
	return &githttp.BasicAuth{Username: AdminUser, Password: s.Token}
}

// CreateRepo creates an empty repository of AdminUser named prefix plus a
// random suffix (so the tests of a Shared server, and -count=N, never
// collide), with default branch main.
func (s *Server) CreateRepo(t testing.TB, prefix string) Repo {
	t.Helper()
	var got struct {
		Name     string `json:"name"`
		CloneURL string `json:"clone_url"`
		Owner    struct {
			Login string `json:"login"`
		} `json:"owner"`
	}
	in := map[string]any{"name": prefix + "-" + testenv.RandomHex(3), "default_branch": "main", "private": false}
	if err := s.Do(context.Background(), http.MethodPost, "/user/repos", in, &got); err != nil {
		t.Fatalf("testgitea: creating a repository: %v", err)
	}
	return Repo{Owner: got.Owner.Login, Name: got.Name, CloneURL: got.CloneURL}
}

// Seed pushes one commit holding every file under dir to branch main of
// repo, an empty repository (internal/gitseed makes the commit).
func (s *Server) Seed(t testing.TB, repo Repo, dir string) {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "seed.git")
	author := object.Signature{Name: "testgitea", Email: "testgitea@example.com", When: time.Now()}
	if err := gitseed.Init(bare, dir, "Seed "+filepath.Base(dir), author); err != nil {
		t.Fatalf("testgitea: %v", err)
	}
	r, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatalf("testgitea: %v", err)
	}
	if _, err := r.CreateRemote(&config.RemoteConfig{Name: "gitea", URLs: []string{repo.CloneURL}}); err != nil {
		t.Fatalf("testgitea: %v", err)
	}
	err = r.PushContext(context.Background(), &git.PushOptions{
		RemoteName: "gitea",
		RefSpecs:   []config.RefSpec{"refs/heads/" + gitseed.Branch + ":refs/heads/main"},
		Auth:       s.GitAuth(),
	})
	if err != nil {
		t.Fatalf("testgitea: pushing %s to %s: %v", dir, repo.CloneURL, err)
	}
}

// ProtectBranch protects branch of repo: no one pushes to it directly, the
// administrator included; changes arrive by merging a pull request.
func (s *Server) ProtectBranch(t testing.TB, repo Repo, branch string) {
	t.Helper()
	in := map[string]any{"rule_name": branch, "enable_push": false}
	if err := s.Do(context.Background(), http.MethodPost, repo.Path()+"/branch_protections", in, nil); err != nil {
		t.Fatalf("testgitea: protecting branch %s: %v", branch, err)
	}
}
