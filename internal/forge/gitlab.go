package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// gitlabClient talks to GitLab's REST API (v4) through
// gitlab.com/gitlab-org/api/client-go. Merge requests are pull requests;
// their iid is PullRequest.Number.
type gitlabClient struct {
	c       *gitlab.Client
	o       options
	project string // the full path: group/subgroup/name
}

// noLimit replaces the client's own rate limiter, which asks the server
// for its limits with an extra request: tagwatch makes a handful of calls
// per cycle, and a 429 waits for the next cycle.
type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

func newGitLab(o options, project string) (*gitlabClient, error) {
	base := o.url
	if base == "" {
		base = "https://gitlab.com"
	}
	c, err := gitlab.NewClient(o.token, gitlab.WithBaseURL(base), gitlab.WithHTTPClient(o.http),
		gitlab.WithoutRetries(), gitlab.WithCustomLimiter(noLimit{}), gitlab.WithUserAgent("tagwatch"))
	if err != nil {
		return nil, fmt.Errorf("gitlab: %w", err)
	}
	return &gitlabClient{c: c, o: o, project: project}, nil
}

func (g *gitlabClient) fail(op string, resp *gitlab.Response, err error) error {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		e := apiError(GitLab, g.project, op, er.Response.StatusCode, er.Message, g.o.token, err)
		if s := er.Response.Header.Get("Retry-After"); s != "" {
			if n, err := strconv.Atoi(s); err == nil {
				e.RetryAfter = time.Duration(n) * time.Second
			}
		}
		return e
	}
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	return apiError(GitLab, g.project, op, status, "", g.o.token, err)
}

func gitlabMR(mr *gitlab.BasicMergeRequest) *PullRequest {
	return &PullRequest{Number: mr.IID, URL: mr.WebURL, Title: mr.Title, Body: mr.Description, Head: mr.SourceBranch, Base: mr.TargetBranch}
}

func (g *gitlabClient) ListOpen(ctx context.Context, head, base string) ([]*PullRequest, error) {
	mrs, resp, err := g.c.MergeRequests.ListProjectMergeRequests(g.project, &gitlab.ListProjectMergeRequestsOptions{
		State: gitlab.Ptr("opened"), SourceBranch: gitlab.Ptr(head), TargetBranch: gitlab.Ptr(base),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, g.fail("listing open merge requests from "+head, resp, err)
	}
	var out []*PullRequest
	for _, mr := range mrs {
		if mr.SourceBranch == head && mr.TargetBranch == base && (mr.SourceProjectID == 0 || mr.SourceProjectID == mr.TargetProjectID) {
			out = append(out, gitlabMR(mr))
		}
	}
	return oldestFirst(out), nil
}

func (g *gitlabClient) Create(ctx context.Context, s Spec) (*PullRequest, error) {
	mr, resp, err := g.c.MergeRequests.CreateMergeRequest(g.project, &gitlab.CreateMergeRequestOptions{
		Title: &s.Title, Description: &s.Body, SourceBranch: &s.Head, TargetBranch: &s.Base,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, g.fail("opening a merge request from "+s.Head, resp, err)
	}
	return gitlabMR(&mr.BasicMergeRequest), nil
}

func (g *gitlabClient) Update(ctx context.Context, pr *PullRequest, title, body string) (*PullRequest, error) {
	mr, resp, err := g.c.MergeRequests.UpdateMergeRequest(g.project, pr.Number, &gitlab.UpdateMergeRequestOptions{Title: &title, Description: &body}, gitlab.WithContext(ctx))
	if err != nil {
		return pr, g.fail(fmt.Sprintf("updating merge request !%d", pr.Number), resp, err)
	}
	return gitlabMR(&mr.BasicMergeRequest), nil
}

func (g *gitlabClient) Close(ctx context.Context, pr *PullRequest) error {
	_, resp, err := g.c.MergeRequests.UpdateMergeRequest(g.project, pr.Number, &gitlab.UpdateMergeRequestOptions{StateEvent: gitlab.Ptr("close")}, gitlab.WithContext(ctx))
	if err != nil {
		return g.fail(fmt.Sprintf("closing merge request !%d", pr.Number), resp, err)
	}
	return nil
}

// AutoMerge accepts the merge request with auto_merge: GitLab merges it
// when its pipeline succeeds (at once when there is none). A merge request
// GitLab is still checking answers 405 or 422: the next cycle asks again.
func (g *gitlabClient) AutoMerge(ctx context.Context, pr *PullRequest) error {
	_, resp, err := g.c.MergeRequests.AcceptMergeRequest(g.project, pr.Number, &gitlab.AcceptMergeRequestOptions{AutoMerge: gitlab.Ptr(true)}, gitlab.WithContext(ctx))
	if err != nil {
		var er *gitlab.ErrorResponse
		if errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusMethodNotAllowed ||
			er.Response.StatusCode == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(er.Message), "cannot be merged")) {
			return nil
		}
		return g.fail(fmt.Sprintf("setting merge request !%d to merge when the pipeline succeeds", pr.Number), resp, err)
	}
	return nil
}
