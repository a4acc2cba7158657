package forge

import (
	"context"

	"fmt"
	"net/http"

	"code.gitea.io/sdk/gitea"
)

// giteaClient talks to Gitea's API (v1.17 or later: auto-merge) through
// code.gitea.io/sdk/gitea.
type giteaClient struct {
	o           options
	owner, name string
}

func newGitea(o options, owner, name string) *giteaClient {
	return &giteaClient{o: o, owner: owner, name: name}
}

// sdk is an SDK client bound to ctx: the SDK takes its context per client,
// and making one does no I/O (the server version is not asked for).
func (g *giteaClient) sdk(ctx context.Context) (*gitea.Client, error) {
	return gitea.NewClient(g.o.url, gitea.SetToken(g.o.token), gitea.SetHTTPClient(g.o.http),
		gitea.SetContext(ctx), gitea.SetGiteaVersion(""), gitea.SetUserAgent("tagwatch"))
}

func (g *giteaClient) repo() string { return g.owner + "/" + g.name }

func (g *giteaClient) fail(op string, resp *gitea.Response, err error) error {
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	msg := ""
	if status != 0 {
		msg = err.Error()
	}
	return apiError(Gitea, g.repo(), op, status, msg, g.o.token, err)
}

func (g *giteaClient) ListOpen(ctx context.Context, head, base string) ([]*PullRequest, error) {
	c, err := g.sdk(ctx)
	if err != nil {
		return nil, g.fail("listing pull requests", nil, err)
	}
	var out []*PullRequest
	for page := 1; ; page++ {
		prs, resp, err := c.ListRepoPullRequests(g.owner, g.name, gitea.ListPullRequestsOptions{
			ListOptions: gitea.ListOptions{Page: page, PageSize: 50}, State: gitea.StateOpen,
		})
		if err != nil {
			return nil, g.fail("listing open pull requests", resp, err)
		}
		for _, pr := range prs {
			if pr.Head != nil && pr.Base != nil && pr.Head.Ref == head && pr.Base.Ref == base && g.sameRepo(pr) {
				out = append(out, giteaPR(pr))
			}
		}
		if len(prs) == 0 || resp == nil || resp.NextPage == 0 {
			return oldestFirst(out), nil
		}
	}
}

// sameRepo: the head branch is in this repository, not a fork's branch
// of the same name.
func (g *giteaClient) sameRepo(pr *gitea.PullRequest) bool {
	return pr.Head.Repository == nil || pr.Base.Repository == nil || pr.Head.RepoID == pr.Base.RepoID
}

func giteaPR(pr *gitea.PullRequest) *PullRequest {
	out := &PullRequest{Number: pr.Index, URL: pr.HTMLURL, Title: pr.Title, Body: pr.Body}
	if pr.Head != nil {
		out.Head = pr.Head.Ref
	}
	if pr.Base != nil {
		out.Base = pr.Base.Ref
	}
	return out
}

func (g *giteaClient) Create(ctx context.Context, s Spec) (*PullRequest, error) {
	op := "opening a pull request from " + s.Head
	c, err := g.sdk(ctx)
	if err != nil {
		return nil, g.fail(op, nil, err)
	}
	pr, resp, err := c.CreatePullRequest(g.owner, g.name, gitea.CreatePullRequestOption{Head: s.Head, Base: s.Base, Title: s.Title, Body: s.Body})
	if err != nil {
		return nil, g.fail(op, resp, err)
	}
	return giteaPR(pr), nil
}

func (g *giteaClient) Update(ctx context.Context, pr *PullRequest, title, body string) (*PullRequest, error) {
	op := fmt.Sprintf("updating pull request #%d", pr.Number)
	c, err := g.sdk(ctx)
	if err != nil {
		return nil, g.fail(op, nil, err)
	}
	got, resp, err := c.EditPullRequest(g.owner, g.name, pr.Number, gitea.EditPullRequestOption{Title: title, Body: &body})
	if err != nil {
		return pr, g.fail(op, resp, err)
	}
	return giteaPR(got), nil
}

func (g *giteaClient) Close(ctx context.Context, pr *PullRequest) error {
	op := fmt.Sprintf("closing pull request #%d", pr.Number)
	c, err := g.sdk(ctx)
	if err != nil {
		return g.fail(op, nil, err)
	}
	closed := gitea.StateClosed
	if _, resp, err := c.EditPullRequest(g.owner, g.name, pr.Number, gitea.EditPullRequestOption{State: &closed}); err != nil {
		return g.fail(op, resp, err)
	}
	return nil
}

// AutoMerge asks Gitea to merge when the checks succeed: the merge call
// with merge_when_checks_succeed, which merges at once when they have (or
// there are none) and schedules the merge otherwise. Right after a push
// Gitea may still be testing whether the branch merges (405, "try again
// later"): that is not an error, the next cycle asks again.
func (g *giteaClient) AutoMerge(ctx context.Context, pr *PullRequest) error {
	op := fmt.Sprintf("asking to merge pull request #%d when its checks pass", pr.Number)
	c, err := g.sdk(ctx)
	if err != nil {
		return g.fail(op, nil, err)
	}
	_, resp, err := c.MergePullRequest(g.owner, g.name, pr.Number, gitea.MergePullRequestOption{
		Style: gitea.MergeStyleMerge, MergeWhenChecksSucceed: true,
	})
	if err != nil {
		if resp != nil && resp.Response != nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusConflict) {
			return nil // not mergeable yet, or already scheduled
		}
		return g.fail(op, resp, err)
	}
	return nil
}
