package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v93/github"
)

// githubClient talks to GitHub's REST API through
// github.com/google/go-github; auto-merge, which REST does not offer, is
// GitHub's GraphQL mutation enablePullRequestAutoMerge, sent through the
// same client.
type githubClient struct {
	c           *github.Client
	o           options
	owner, name string
	graphql     string
}

func newGitHub(o options, owner, name string) (*githubClient, error) {
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(o.http), github.WithUserAgent("tagwatch")}
	if o.token != "" {
		opts = append(opts, github.WithAuthToken(o.token))
	}
	graphql := "https://api.github.com/graphql"
	if o.url != "" {
		base := o.url + "/"
		opts = append(opts, github.WithURLs(&base, &base))
		u, err := url.Parse(base)
		if err != nil {
			return nil, err
		}
		if p, ok := strings.CutSuffix(u.Path, "/v3/"); ok {
			u.Path = p + "/graphql" // GitHub Enterprise Server: /api/v3/ and /api/graphql
		} else {
			u.Path += "graphql"
		}
		graphql = u.String()
	}
	c, err := github.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return &githubClient{c: c, o: o, owner: owner, name: name, graphql: graphql}, nil
}

func (g *githubClient) repo() string { return g.owner + "/" + g.name }

func (g *githubClient) fail(op string, err error) error {
	var rle *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rle):
		e := apiError(GitHub, g.repo(), op, http.StatusTooManyRequests, rle.Message, g.o.token, err)
		if rle.Response != nil {
			e.Status = rle.Response.StatusCode
		}
		if !rle.Rate.Reset.IsZero() {
			e.RetryAfter = time.Until(rle.Rate.Reset.Time)
		}
		e.err = ErrRateLimited
		return e
	case errors.As(err, &abuse):
		e := apiError(GitHub, g.repo(), op, http.StatusTooManyRequests, abuse.Message, g.o.token, err)
		if abuse.Response != nil {
			e.Status = abuse.Response.StatusCode
		}
		e.RetryAfter = abuse.GetRetryAfter()
		e.err = ErrRateLimited
		return e
	case errors.As(err, &er) && er.Response != nil:
		msg := er.Message
		for _, d := range er.Errors {
			if d.Message != "" {
				msg += ": " + d.Message
			}
		}
		e := apiError(GitHub, g.repo(), op, er.Response.StatusCode, msg, g.o.token, err)
		if er.Response.StatusCode == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(msg), "already exists") {
			e.err = ErrConflict // "A pull request already exists for owner:branch."
		}
		return e
	}
	return apiError(GitHub, g.repo(), op, 0, "", g.o.token, err)
}

func githubPR(pr *github.PullRequest) *PullRequest {
	return &PullRequest{
		Number: int64(pr.GetNumber()), ID: pr.GetNodeID(), URL: pr.GetHTMLURL(), Title: pr.GetTitle(), Body: pr.GetBody(),
		Head: pr.GetHead().GetRef(), Base: pr.GetBase().GetRef(),
	}
}

// ListOpen lists the open pull requests of head (as owner:branch, so a
// fork's branch of the same name is not taken) into base.
func (g *githubClient) ListOpen(ctx context.Context, head, base string) ([]*PullRequest, error) {
	prs, _, err := g.c.PullRequests.List(ctx, g.owner, g.name, &github.PullRequestListOptions{State: "open", Head: g.owner + ":" + head, Base: base})
	if err != nil {
		return nil, g.fail("listing open pull requests from "+head, err)
	}
	var out []*PullRequest
	for _, pr := range prs {
		if pr.GetHead().GetRef() == head && pr.GetBase().GetRef() == base {
			out = append(out, githubPR(pr))
		}
	}
	return oldestFirst(out), nil
}

func (g *githubClient) Create(ctx context.Context, s Spec) (*PullRequest, error) {
	pr, _, err := g.c.PullRequests.Create(ctx, g.owner, g.name, github.CreatePullRequest{Title: &s.Title, Head: s.Head, Base: s.Base, Body: &s.Body})
	if err != nil {
		return nil, g.fail("opening a pull request from "+s.Head, err)
	}
	return githubPR(pr), nil
}

func (g *githubClient) Update(ctx context.Context, pr *PullRequest, title, body string) (*PullRequest, error) {
	got, _, err := g.c.PullRequests.Edit(ctx, g.owner, g.name, int(pr.Number), &github.PullRequest{Title: &title, Body: &body})
	if err != nil {
		return pr, g.fail(fmt.Sprintf("updating pull request #%d", pr.Number), err)
	}
	return githubPR(got), nil
}

func (g *githubClient) Close(ctx context.Context, pr *PullRequest) error {
	closed := "closed"
	if _, _, err := g.c.PullRequests.Edit(ctx, g.owner, g.name, int(pr.Number), &github.PullRequest{State: &closed}); err != nil {
		return g.fail(fmt.Sprintf("closing pull request #%d", pr.Number), err)
	}
	return nil
}

// AutoMerge enables GitHub's auto-merge (the repository must allow it),
// which merges when the required checks and reviews pass. A pull request
// that may be merged already ("clean status": no required checks) cannot
// be set to auto-merge: it is merged at once instead, as auto-merge would.
func (g *githubClient) AutoMerge(ctx context.Context, pr *PullRequest) error {
	op := fmt.Sprintf("enabling auto-merge of pull request #%d", pr.Number)
	q := map[string]any{
		"query":     `mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: MERGE}) { clientMutationId } }`,
		"variables": map[string]any{"id": pr.ID},
	}
	req, err := g.c.NewRequest(ctx, http.MethodPost, g.graphql, q)
	if err != nil {
		return g.fail(op, err)
	}
	var res struct {
		Errors []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if _, err := g.c.Do(req, &res); err != nil {
		return g.fail(op, err)
	}
	if len(res.Errors) == 0 {
		return nil
	}
	msg := res.Errors[0].Message
	if strings.Contains(strings.ToLower(msg), "clean status") {
		if _, _, err := g.c.PullRequests.Merge(ctx, g.owner, g.name, int(pr.Number), "", &github.PullRequestOptions{MergeMethod: "merge"}); err != nil {
			return g.fail(fmt.Sprintf("merging pull request #%d", pr.Number), err)
		}
		return nil
	}
	status := http.StatusUnprocessableEntity
	switch res.Errors[0].Type {
	case "FORBIDDEN":
		status = http.StatusForbidden
	case "NOT_FOUND":
		status = http.StatusNotFound
	case "RATE_LIMITED":
		status = http.StatusTooManyRequests
	}
	return apiError(GitHub, g.repo(), op, status, msg, g.o.token, nil)
}
