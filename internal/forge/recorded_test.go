package forge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/forge"
)

// GitHub and GitLab cannot run on this machine (no network but the package
// registries, and neither ships a server one can run), so their clients are
// tested against recorded HTTP exchanges (testdata/github-*.json,
// testdata/gitlab-*.json) served on 127.0.0.1. The exchanges follow the
// providers' documented APIs: GitHub's REST "Pulls" endpoints
// (docs.github.com/rest/pulls/pulls: list with head=owner:branch, create,
// update, merge), the GraphQL mutation enablePullRequestAutoMerge and its
// "clean status" refusal, the 422 "A pull request already exists" beside
// another 422, the 403 with X-RateLimit-Remaining: 0 beside a plain 403; GitLab's "Merge requests" API
// (docs.gitlab.com/api/merge_requests: list by source and target branch,
// create, update with state_event, merge with auto_merge), its 409 for a
// second merge request of one source branch and its 429 with Retry-After.
// The replay checks each request (method, path, query, JSON fields, the
// token header) and that every exchange was asked for. They are a check
// of our use of the SDKs, not of the forges: Gitea, which runs here, is
// tested for real (gitea_test.go).

const token = "ghp_0123456789abcdefTOKEN"

func github(t *testing.T, script string) forge.Client {
	t.Helper()
	srv := replay(t, script, "Authorization", "Bearer "+token)
	c, err := forge.New(forge.GitHub, "acme/deploy", forge.WithURL(srv.URL), forge.WithToken(token), forge.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gitlab(t *testing.T, script string) forge.Client {
	t.Helper()
	srv := replay(t, script, "Private-Token", token)
	c, err := forge.New(forge.GitLab, "platform/team/deploy", forge.WithURL(srv.URL), forge.WithToken(token), forge.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var opened = forge.Spec{Head: "tagwatch/staging", Base: "main", Title: "tagwatch(staging): app 1.0.0 -> 1.1.0", Body: "Moved app.\n"}

func TestRecordedOpenWithAutoMerge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(*testing.T, string) forge.Client
		number int64
		url    string
	}{
		{"github", github, 7, "https://github.com/acme/deploy/pull/7"},
		{"gitlab", gitlab, 3, "https://gitlab.example.com/platform/team/deploy/-/merge_requests/3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := opened
			spec.AutoMerge = true
			out, err := forge.Ensure(context.Background(), tc.client(t, tc.name+"-open.json"), spec)
			if err != nil || out.Action != forge.Opened || out.PR.Number != tc.number || out.PR.URL != tc.url {
				t.Errorf("Ensure = %+v (PR %+v), %v; want #%d opened at %s", out, out.PR, err, tc.number, tc.url)
			}
		})
	}
}

func TestRecordedUpdateInPlaceAndClose(t *testing.T) {
	for _, name := range []string{"github", "gitlab"} {
		t.Run(name, func(t *testing.T) {
			c := map[string]func(*testing.T, string) forge.Client{"github": github, "gitlab": gitlab}[name](t, name+"-update-close.json")
			ctx := context.Background()
			spec := forge.Spec{Head: "tagwatch/staging", Base: "main", Title: "tagwatch(staging): app 1.0.0 -> 1.2.0", Body: "Moved app to 1.2.0.\n"}
			out, err := forge.Ensure(ctx, c, spec)
			if err != nil || out.Action != forge.Updated || out.PR.Title != spec.Title {
				t.Errorf("Ensure = %+v, %v; want updated in place", out, err)
			}
			closed, err := forge.CloseFor(ctx, c, spec.Head, spec.Base)
			if err != nil || closed.Action != forge.Closed {
				t.Errorf("CloseFor = %+v, %v", closed, err)
			}
		})
	}
}

// TestRecordedErrors: a refused token, a duplicate (which Ensure resolves
// by taking the open one), a rate limit and a refused merge are errors
// that name the forge, the repository and the operation, match their
// condition and never show the token.
func TestRecordedErrors(t *testing.T) {
	check := func(t *testing.T, err, want error, words ...string) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("error %v, want %v", err, want)
			return
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	ctx := context.Background()
	t.Run("github", func(t *testing.T) {
		c := github(t, "github-errors.json")
		_, err := c.ListOpen(ctx, "tagwatch/staging", "main")
		check(t, err, forge.ErrUnauthorized, "github", "acme/deploy", "listing open pull requests from tagwatch/staging", "401", "tokenEnv")
		out, err := forge.Ensure(ctx, c, opened)
		if err != nil || out.PR.Number != 9 || out.Action != forge.Unchanged {
			t.Errorf("Ensure after a 422 duplicate = %+v, %v; want the open #9 taken as it is", out, err)
		}
		_, err = c.ListOpen(ctx, "tagwatch/staging", "main")
		check(t, err, forge.ErrRateLimited, "rate limited", "acme/deploy")
	})
	t.Run("github refusals", func(t *testing.T) {
		// A 403 without X-RateLimit-Remaining: 0 is the token's scopes, not
		// a rate limit; a 422 other than "already exists" is no conflict.
		c := github(t, "github-refusals.json")
		_, err := forge.Ensure(ctx, c, opened)
		check(t, err, forge.ErrForbidden, "403", "scopes", "Resource not accessible")
		if errors.Is(err, forge.ErrRateLimited) {
			t.Errorf("a plain 403 taken for a rate limit: %v", err)
		}
		_, err = forge.Ensure(ctx, c, opened)
		if err == nil || errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "No commits between main and tagwatch/staging") || !strings.Contains(err.Error(), "422") {
			t.Errorf("Ensure after a 422 that is no duplicate = %v; want the forge's words, not a conflict", err)
		}
	})
	t.Run("gitlab", func(t *testing.T) {
		c := gitlab(t, "gitlab-errors.json")
		_, err := c.ListOpen(ctx, "tagwatch/staging", "main")
		check(t, err, forge.ErrUnauthorized, "gitlab", "platform/team/deploy", "listing open merge requests", "401")
		out, err := forge.Ensure(ctx, c, opened)
		if err != nil || out.PR.Number != 4 || out.Action != forge.Unchanged {
			t.Errorf("Ensure after a 409 duplicate = %+v, %v; want the open !4 taken as it is", out, err)
		}
		_, err = c.ListOpen(ctx, "tagwatch/staging", "main")
		check(t, err, forge.ErrRateLimited, "rate limited", "1m0s")
		err = c.AutoMerge(ctx, out.PR)
		check(t, err, forge.ErrForbidden, "merge request !4", "scopes")
	})
}

func TestRepositoryPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://git.example.com/platform/deploy.git":      "platform/deploy",
		"https://gitlab.com/group/sub/deploy":              "group/sub/deploy",
		"ssh://git@github.com/acme/deploy.git":             "acme/deploy",
		"git@github.com:acme/deploy.git":                   "acme/deploy",
		"http://127.0.0.1:3000/tagwatch-admin/deploy.git/": "tagwatch-admin/deploy",
	} {
		if got, err := forge.RepositoryPath(in); err != nil || got != want {
			t.Errorf("RepositoryPath(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := forge.RepositoryPath("https://git.example.com/deploy.git"); err == nil {
		t.Error("RepositoryPath of a URL without an owner: no error")
	}
	// The error reaches an InvalidAnnotations Event: the token of the URL
	// (a user name alone, or a password) stays out, whether or not the
	// URL parses.
	for _, in := range []string{
		"https://ghp_SECRET@github.com/deploy.git",
		"https://x-access-token:ghp_SECRET@github.com/deploy.git",
		"https://ghp_SECRET@github.com/acme/%zz.git",
	} {
		_, err := forge.RepositoryPath(in)
		if err == nil || strings.Contains(err.Error(), "ghp_SECRET") || !strings.Contains(err.Error(), "github.com") {
			t.Errorf("RepositoryPath(%s): %v; want an error naming the host without the token", in, err)
		}
	}
	// DefaultURL's for a URL that is not http(s) likewise.
	if _, err := forge.DefaultURL(forge.Gitea, "ssh://git:ghp_SECRET@git.example.com/acme/deploy.git"); err == nil || strings.Contains(err.Error(), "ghp_SECRET") {
		t.Errorf("DefaultURL: %v; want an error without the password", err)
	}
}
