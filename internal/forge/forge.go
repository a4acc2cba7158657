// Package forge opens, updates and closes tagwatch's pull requests
// (DESIGN §9) on Gitea, GitHub and GitLab, through each forge's maintained
// Go SDK (code.gitea.io/sdk/gitea, github.com/google/go-github,
// gitlab.com/gitlab-org/api/client-go) behind one small interface, Client.
//
// The model: one pull request per environment, found by its head branch
// (tagwatch/<environment>) and base branch, never by a number remembered
// anywhere, so a restarted process finds what the last one opened. Ensure
// opens it or updates it in place; when creating races with another writer
// (a second cycle, another replica), the forge refuses the duplicate
// (Gitea 409, GitHub 422, GitLab 409) and Ensure takes the one that won;
// a forge whose check is not atomic (Gitea opens both of two simultaneous
// requests) leaves two open, and Ensure, which lists again after opening
// one, keeps the oldest and closes the others, in every writer alike.
// CloseFor closes it when nothing is left to change.
//
// Errors of the forges' APIs become *APIError values that name the forge,
// the repository and the operation, say what a status usually means (401:
// the token; 403: its scopes; 404: the repository or the token's reach;
// 429: the rate limit), and match ErrUnauthorized, ErrForbidden,
// ErrNotFound, ErrConflict or ErrRateLimited. The token never appears in
// them.
package forge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tagwatch/tagwatch/gitrepo"
)

// Kinds of forge (git.provider.kind).
const (
	Gitea  = "gitea"
	GitHub = "github"
	GitLab = "gitlab"
)

// Kinds lists the kinds, for messages.
var Kinds = []string{Gitea, GitHub, GitLab}

// PullRequest is an open pull request (GitLab: merge request).
type PullRequest struct {
	Number int64  // GitLab: the merge request's iid
	ID     string // GitHub: the node id (auto-merge is a GraphQL mutation)
	URL    string // the page a person opens
	Title  string
	Body   string
	Head   string
	Base   string
}

// Spec is the pull request tagwatch wants open for a branch.
type Spec struct {
	Head, Base  string
	Title, Body string
	// AutoMerge asks the forge to merge once the checks pass.
	AutoMerge bool
}

// Client is one repository on one forge.
type Client interface {
	// ListOpen returns the open pull requests from head into base, oldest
	// (lowest number) first.
	ListOpen(ctx context.Context, head, base string) ([]*PullRequest, error)
	// Create opens a pull request; ErrConflict when one is open for head.
	Create(ctx context.Context, s Spec) (*PullRequest, error)
	// Update sets the title and the body of an open pull request.
	Update(ctx context.Context, pr *PullRequest, title, body string) (*PullRequest, error)
	// Close closes an open pull request without merging it.
	Close(ctx context.Context, pr *PullRequest) error
	// AutoMerge asks the forge to merge pr once its checks pass (at once
	// when they have).
	AutoMerge(ctx context.Context, pr *PullRequest) error
}

// Actions of Ensure and CloseFor.
const (
	Opened    = "opened"
	Updated   = "updated"
	Unchanged = "unchanged"
	Closed    = "closed"
)

// Outcome is what Ensure or CloseFor did.
type Outcome struct {
	PR     *PullRequest // nil when CloseFor found none
	Action string       // Opened, Updated, Unchanged, Closed, or "" for nothing
}

// Ensure makes sure one pull request from s.Head into s.Base is open with
// s's title and body: the open one updated in place, or a new one; never a
// second one (duplicates, from a race on a forge that let both through,
// are closed, the oldest kept). With s.AutoMerge it asks the forge to merge
// when the checks pass.
func Ensure(ctx context.Context, c Client, s Spec) (Outcome, error) {
	prs, err := c.ListOpen(ctx, s.Head, s.Base)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Action: Unchanged}
	if len(prs) == 0 {
		created, err := c.Create(ctx, s)
		switch {
		case errors.Is(err, ErrConflict): // opened meanwhile by another writer
		case err != nil:
			return Outcome{}, err
		default:
			out.Action = Opened
		}
		// Again: another writer may have opened one at the same time.
		if prs, err = c.ListOpen(ctx, s.Head, s.Base); err != nil {
			return Outcome{}, err
		}
		if len(prs) == 0 && created != nil {
			prs = []*PullRequest{created} // a forge whose list lags behind
		}
		if len(prs) == 0 {
			return Outcome{}, fmt.Errorf("a pull request from %s is said to exist, but none is open", s.Head)
		}
		if out.Action == Opened && created != nil && prs[0].Number != created.Number {
			out.Action = Unchanged // another writer's is older: ours goes below
		}
	}
	pr := prs[0]
	for _, dup := range prs[1:] {
		if err := closeDuplicate(ctx, c, dup, s); err != nil {
			return Outcome{PR: pr}, err
		}
	}
	if out.Action != Opened && (normalize(pr.Title) != normalize(s.Title) || normalize(pr.Body) != normalize(s.Body)) {
		if pr, err = c.Update(ctx, pr, s.Title, s.Body); err != nil {
			return Outcome{PR: pr}, err
		}
		out.Action = Updated
	}
	out.PR = pr
	if s.AutoMerge {
		if err := c.AutoMerge(ctx, pr); err != nil {
			return out, err
		}
	}
	return out, nil
}

// closeDuplicate closes dup, a second open pull request from s.Head. When
// the forge refuses, it looks again: another writer racing this one may
// have closed it first (Gitea then answers 500, "the issue is already
// changed"), which is what was wanted.
func closeDuplicate(ctx context.Context, c Client, dup *PullRequest, s Spec) error {
	err := c.Close(ctx, dup)
	if err == nil {
		return nil
	}
	open, lerr := c.ListOpen(ctx, s.Head, s.Base)
	if lerr != nil {
		return err
	}
	for _, pr := range open {
		if pr.Number == dup.Number {
			return err
		}
	}
	return nil
}

// normalize ignores what forges change in a text they store: line endings
// and trailing blank space.
func normalize(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \n")
}

// CloseFor closes the open pull requests from head into base, if any;
// the outcome names the oldest.
func CloseFor(ctx context.Context, c Client, head, base string) (Outcome, error) {
	prs, err := c.ListOpen(ctx, head, base)
	if err != nil || len(prs) == 0 {
		return Outcome{}, err
	}
	for _, pr := range prs {
		if err := c.Close(ctx, pr); err != nil {
			return Outcome{PR: prs[0]}, err
		}
	}
	return Outcome{PR: prs[0], Action: Closed}, nil
}

// oldestFirst sorts pull requests by number.
func oldestFirst(prs []*PullRequest) []*PullRequest {
	slices.SortFunc(prs, func(a, b *PullRequest) int { return cmp.Compare(a.Number, b.Number) })
	return prs
}

// Option configures New.
type Option func(*options) error

type options struct {
	url   string
	token string
	http  *http.Client
}

// WithURL sets the forge's address: Gitea's root (https://git.example.com),
// GitHub's API (default https://api.github.com/; GitHub Enterprise:
// https://github.example.com/api/v3/), GitLab's root (default
// https://gitlab.com).
func WithURL(u string) Option {
	return func(o *options) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("forge URL %q: want http(s)://host[/path]", u)
		}
		if p.User != nil {
			return fmt.Errorf("forge URL %s: put the token in tokenEnv or tokenFile, not in the URL", p.Redacted())
		}
		o.url = strings.TrimSuffix(u, "/")
		return nil
	}
}

// WithToken sets the access token sent with every request.
func WithToken(token string) Option {
	return func(o *options) error { o.token = token; return nil }
}

// WithHTTPClient replaces the HTTP client (default: one with a 30s timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("nil HTTP client")
		}
		o.http = c
		return nil
	}
}

// New returns the Client of repository (its path on the forge:
// "owner/name", on GitLab "group/subgroup/name") on a forge of kind.
func New(kind, repository string, opts ...Option) (Client, error) {
	o := options{http: &http.Client{Timeout: 30 * time.Second}}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	parts := strings.Split(repository, "/")
	if len(parts) < 2 || slicesContainsEmpty(parts) || (kind != GitLab && len(parts) != 2) {
		return nil, fmt.Errorf("%s repository %q: want owner/name", kind, repository)
	}
	switch kind {
	case Gitea:
		if o.url == "" {
			return nil, errors.New("gitea: the forge's URL is required")
		}
		return newGitea(o, parts[0], parts[1]), nil
	case GitHub:
		return newGitHub(o, parts[0], parts[1])
	case GitLab:
		return newGitLab(o, repository)
	}
	return nil, fmt.Errorf("forge kind %q: want one of %s", kind, strings.Join(Kinds, ", "))
}

func slicesContainsEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

// RepositoryPath is the path of the repository a git URL names on its
// forge: "platform/deploy" for https://git.example.com/platform/deploy.git,
// ssh://git@host/platform/deploy.git or git@host:platform/deploy.git.
func RepositoryPath(gitURL string) (string, error) {
	p := gitURL
	if strings.Contains(gitURL, "://") {
		u, err := url.Parse(gitURL)
		if err != nil {
			var ue *url.Error // its message quotes the URL whole, credentials too
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return "", fmt.Errorf("git URL %s: %w", gitrepo.Redact(gitURL), err)
		}
		p = u.Path
	} else if _, rest, ok := strings.Cut(gitURL, ":"); ok {
		p = rest // user@host:path
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	if !strings.Contains(p, "/") {
		return "", fmt.Errorf("git URL %s names no owner/repository path on a forge", gitrepo.Redact(gitURL))
	}
	return p, nil
}

// DefaultURL is the forge's address when the config gives none: GitHub's
// and GitLab's public services, and for Gitea the host of the git URL.
func DefaultURL(kind, gitURL string) (string, error) {
	switch kind {
	case GitHub:
		return "https://api.github.com", nil
	case GitLab:
		return "https://gitlab.com", nil
	}
	u, err := url.Parse(gitURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%s: set git.provider.url (the git URL %s is not http(s), so the API's address cannot be taken from it)", kind, gitrepo.Redact(gitURL))
	}
	return u.Scheme + "://" + u.Host, nil
}
