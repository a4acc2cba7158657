// Package plan is the model the loop works on, free of where it came from:
// a Plan per git repository and branch, holding the environments written
// there, each with its compiled watches. A config file (FromConfig) and
// Argo CD Applications (the Kubernetes source) both produce Plans; the loop
// reads nothing else.
//
// Plans are immutable once made: the loop shares them between goroutines and
// cycles, and a source that changes replaces them whole.
package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/gate"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// Plan is one git repository and branch: one cached working copy, one
// commit per environment and one push per cycle.
type Plan struct {
	Repo Repo
	Envs []*Environment
}

// Repo says where a plan's environments live and how to write there.
type Repo struct {
	URL    string // as written: https://, ssh://, user@host:path, file://, a local path
	Branch string // "" for the remote's default branch
	Author gitrepo.Author
	// Auth reads the credentials when the repository is opened (each
	// cycle), so a rotated secret applies at the next cycle. Nil: none.
	Auth func(ctx context.Context) (gitrepo.Auth, error)
	// Signer signs every commit made here (git.signing); nil: unsigned.
	// The key was read and parsed when the plan was made.
	Signer gitrepo.Signer
	// Forge is where the pull requests of environments in pull-request
	// mode are opened (git.provider); nil: none.
	Forge *Forge
}

// Forge is a repository's forge, for pull requests (DESIGN §9).
type Forge struct {
	Kind       string // gitea, github, gitlab (internal/forge's kinds)
	URL        string // the forge's address ("" for the kind's default)
	Repository string // the repository's path there: owner/name (GitLab: group/…/name)
	// Token reads the API token at use (each cycle), so a rotated token
	// applies at the next cycle.
	Token func(ctx context.Context) (string, error)
}

// Key identifies the repository and branch: plans with equal keys share a
// working copy, so sources merge them. The URL counts by its repository,
// not its spelling (config.RepoKey: https://host/org/app.git and
// https://host/org/app/ are one); the branch as written ("" stays apart
// from a named branch: config validation refuses that mix in one
// repository, as the default branch is known only at the remote).
func (r Repo) Key() string { return r.Repository() + "\x00" + r.Branch }

// Repository identifies the git repository whatever its branch: by the
// repository its URL names, not by its spelling (config.RepoKey).
func (r Repo) Repository() string { return config.RepoKey(r.URL) }

// Display is the URL without credentials, for reports and logs.
func (r Repo) Display() string { return gitrepo.Redact(r.URL) }

// Options are the gitrepo options that open this repository; the
// credentials are read now.
func (r Repo) Options(ctx context.Context) ([]gitrepo.Option, error) {
	var opts []gitrepo.Option
	if r.Auth != nil {
		a, err := r.Auth(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, gitrepo.WithAuth(a))
	}
	if r.Branch != "" {
		opts = append(opts, gitrepo.WithBranch(r.Branch))
	}
	if r.Author != (gitrepo.Author{}) {
		opts = append(opts, gitrepo.WithAuthor(r.Author))
	}
	if r.Signer != nil {
		opts = append(opts, gitrepo.WithSigner(r.Signer))
	}
	return opts, nil
}

// Environment is one folder of a repository and the images written there.
type Environment struct {
	Name string // unique across every plan: a key in trailers and `history --env`
	Path string // folder relative to the repository root ("." for the root)
	// Origin says where the environment was declared, for messages that
	// name two places ("tagwatch.yaml: environments[1]").
	Origin  string
	Watches []*Watch
	// Gate, when set, lets the environment take only images the
	// environment Gate.From (of the same plan) has run (DESIGN §8).
	Gate *gate.Gate
	// Health reads the Argo CD Application of the environment, for the
	// gates of environments promoted from it (nil outside Kubernetes mode).
	Health func(ctx context.Context) (*gate.Health, error)
	// Mode is where the environment's commit goes (DESIGN §9): ModePush
	// ("" too) to the repository's branch; ModePullRequest to a branch
	// tagwatch owns, with a pull request into the repository's branch on
	// Repo.Forge; ModeBranch to a branch tagwatch owns, without a pull
	// request (Argo CD Image Updater's git-branch: base:write-branch).
	Mode string
	// Branch is the branch tagwatch owns that ModePullRequest and
	// ModeBranch write: made again from the base branch's head at each
	// cycle. Default for ModePullRequest: tagwatch/<Name>; for ModeBranch,
	// Branch or BranchTemplate is required.
	Branch string
	// BranchTemplate, in ModeBranch instead of Branch, names the branch
	// from the changes of each commit (Argo CD Image Updater's
	// git-branch: base:<template>): another change set, another branch.
	// See RenderBranch.
	BranchTemplate *BranchTemplate
	// AutoMerge asks the forge to merge the pull request when its checks
	// pass (ModePullRequest).
	AutoMerge bool
	// Precheck, when set, is what the environment needs of this cycle
	// besides its repository, checked at each cycle (and before a
	// rollback) before the repository is opened: an error fails this
	// environment alone, reported as its own, and the others of the
	// repository go on without it. Kubernetes mode checks this way that
	// the Secret an Application names for its git credentials can be read,
	// so that one Secret fails its Application rather than the repository.
	// Nil: none, and nothing is spent on it.
	Precheck func(ctx context.Context) error
}

// Modes of Environment.Mode.
const (
	ModePush        = "push"
	ModePullRequest = "pull-request"
	ModeBranch      = "branch"
)

// WriteBranch is the fixed branch tagwatch owns that the environment's
// commit goes to; "" when it goes to the repository's branch (push mode),
// and "" too when the branch is rendered from each commit's changes
// (BranchTemplate): no name is known before a cycle has changes, so such
// an environment never takes part in checks of fixed names. OwnsBranch
// tells both kinds from push mode.
func (e *Environment) WriteBranch() string {
	switch e.Mode {
	case ModePullRequest:
		if e.Branch == "" {
			return "tagwatch/" + e.Name
		}
		return e.Branch
	case ModeBranch:
		return e.Branch
	}
	return ""
}

// OwnsBranch reports whether the environment's commit goes to a branch
// tagwatch owns (WriteBranch, or one BranchTemplate renders) rather than
// to the repository's branch.
func (e *Environment) OwnsBranch() bool {
	return e.Mode == ModePullRequest || e.Mode == ModeBranch
}

// Watch is one image repository watched in one environment: its policy and
// where it is written.
type Watch struct {
	Image string // the repository to list, as written: registry.example.com/team/app, nginx
	// Key is Image normalised (index.docker.io/library/nginx): what
	// triggers (webhooks, Kubernetes) name the repository by.
	Key    string
	Alias  string // marker alias: # {"$tagwatch": "<alias>"}
	Policy *policy.Policy
	// KustomizeName is the kustomization images[].name to edit ("" = Image).
	KustomizeName string
	Helm          *Helm // a values-file target; nil for none
	WriteDigest   bool  // write the digest beside the tag
	// Targets, when set, are the only places the watch is written, instead
	// of the defaults (the kustomization of the environment's folder, Helm,
	// the markers under the folder): Argo CD Image Updater's
	// write-back-target names one place. Paths are relative to the
	// repository root.
	Targets []writeback.Target
	// Deployed, when set, is the value the environment runs, used as the
	// current value when a target holds none yet (a new parameter override
	// file): Argo CD's status.summary.images. ok is false when unknown.
	Deployed func() (cur policy.Current, ok bool)
}

// Helm is a values-file target: dotted paths inside File, which is
// relative to the environment's path.
type Helm struct {
	File       string
	Image      string // whole reference name:tag[@digest]
	Repository string
	Tag        string
	Digest     string
}

// Name is the kustomization images[].name the watch edits.
func (w *Watch) Name() string {
	if w.KustomizeName != "" {
		return w.KustomizeName
	}
	return w.Image
}

// WantsDigest reports whether the digest is written with the tag.
func (w *Watch) WantsDigest() bool {
	return w.WriteDigest || w.Policy.Spec().Strategy == policy.Digest
}

// Watches reports whether any environment of p watches one of repos
// (normalised names, as Watch.Key).
func (p *Plan) Watches(repos map[string]bool) bool {
	for _, e := range p.Envs {
		for _, w := range e.Watches {
			if repos[w.Key] {
				return true
			}
		}
	}
	return false
}

// Check verifies what the loop relies on across plans: environment names
// are unique, and no two plans share a repository and branch. Errors name
// both places.
func Check(plans []*Plan) error {
	var problems []string
	names := map[string]*Environment{}
	keys := map[string]bool{}
	for _, p := range plans {
		if _, err := p.Order(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p.Repo.Display(), err))
		}
		if keys[p.Repo.Key()] {
			problems = append(problems, fmt.Sprintf("%s (branch %q) has two plans; merge them", p.Repo.Display(), p.Repo.Branch))
		}
		keys[p.Repo.Key()] = true
		branches := map[string]string{}
		for _, e := range p.Envs {
			if err := e.checkMode(p); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", e.Origin, err))
			}
			if b := e.WriteBranch(); b != "" {
				if other, dup := branches[b]; dup {
					problems = append(problems, fmt.Sprintf("environments %s and %s both write branch %s of %s", other, e.Name, b, p.Repo.Display()))
				}
				branches[b] = e.Name
			}
			if first, dup := names[e.Name]; dup {
				problems = append(problems, fmt.Sprintf("environment name %q is used twice: %s and %s", e.Name, first.Origin, e.Origin))
				continue
			}
			names[e.Name] = e
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Normalize returns the normalised name of an image repository
// (index.docker.io/library/nginx for nginx), or image itself when it does
// not parse (validation reports that elsewhere).
func Normalize(image string) string {
	r, err := name.NewRepository(image)
	if err != nil {
		return image
	}
	return r.Name()
}

// Order returns the environments of p in promotion order: each after the
// environment it is promoted from, the others as they are. It fails on a
// gate whose from is not in p, or on a cycle.
func (p *Plan) Order() ([]*Environment, error) {
	names := make([]string, len(p.Envs))
	from := map[string]string{}
	byName := map[string]*Environment{}
	for i, e := range p.Envs {
		names[i] = e.Name
		byName[e.Name] = e
		if e.Gate != nil {
			from[e.Name] = e.Gate.From
		}
	}
	order, err := gate.Order(names, from)
	if err != nil {
		return nil, err
	}
	out := make([]*Environment, len(order))
	for i, n := range order {
		out[i] = byName[n]
	}
	return out, nil
}

// Env returns the environment of p named name, or nil.
func (p *Plan) Env(name string) *Environment {
	for _, e := range p.Envs {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// checkMode checks the environment's mode against its plan: a pull
// request needs a forge, an owned branch a valid name other than the
// repository's branch.
func (e *Environment) checkMode(p *Plan) error {
	switch e.Mode {
	case "", ModePush:
		return nil
	case ModePullRequest:
		if e.BranchTemplate != nil {
			return fmt.Errorf("environment %s is in pull-request mode, which writes one branch (%s), and has a template for its branch too", e.Name, e.WriteBranch())
		}
		if p.Repo.Forge == nil {
			return fmt.Errorf("environment %s is in pull-request mode, but %s has no forge (git.provider) to open the pull request on", e.Name, p.Repo.Display())
		}
		if p.Repo.Forge.Repository == "" {
			return fmt.Errorf("environment %s is in pull-request mode, but the git URL %s names no owner/repository on the forge", e.Name, p.Repo.Display())
		}
	case ModeBranch:
		switch {
		case e.Branch != "" && e.BranchTemplate != nil:
			return fmt.Errorf("environment %s names its branch %s and a template for it: give one", e.Name, e.Branch)
		case e.BranchTemplate != nil:
			return nil // checked as each commit renders it (RenderBranch)
		case e.Branch == "":
			return fmt.Errorf("environment %s writes to a branch of its own, but names none", e.Name)
		}
	default:
		return fmt.Errorf("environment %s: unknown mode %q", e.Name, e.Mode)
	}
	b := e.WriteBranch()
	if err := CheckBranchName(b); err != nil {
		return fmt.Errorf("environment %s: %w", e.Name, err)
	}
	if b == p.Repo.Branch {
		return fmt.Errorf("environment %s writes to branch %s, the repository's own branch: a branch tagwatch rewrites must be another", e.Name, b)
	}
	return nil
}

// CheckBranchName checks that b names a branch git and go-git take, as
// written without refs/heads/.
func CheckBranchName(b string) error {
	if err := plumbing.NewBranchReferenceName(b).Validate(); err != nil || b == "" || b == "HEAD" || strings.HasPrefix(b, "refs/") {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	return nil
}
