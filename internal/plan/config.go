package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/forge"
	"github.com/tagwatch/tagwatch/internal/gate"
	"github.com/tagwatch/tagwatch/internal/signing"
	"github.com/tagwatch/tagwatch/internal/webhook"
	"github.com/tagwatch/tagwatch/registry"
)

// Set is everything the program takes from a config file: the plans, the
// registry client's host settings and the poll interval.
type Set struct {
	Plans    []*Plan
	Hosts    []registry.Host
	Interval time.Duration
	// Webhooks are the secrets of the webhook types served, by type;
	// InsecureWebhooks serves the others without a secret.
	Webhooks         map[string]webhook.SecretFunc
	InsecureWebhooks bool
	// Kubernetes is set in Kubernetes mode (applications:): Argo CD
	// Applications add environments to Plans.
	Kubernetes *Kubernetes
}

// Kubernetes is what Kubernetes mode takes from the config.
type Kubernetes struct {
	Namespaces      []string // where Applications are watched
	Selector        string   // label selector; "" for all
	ArgoCDNamespace string   // where Argo CD's repository Secrets are
	// LeaderElection, when set, elects the one writer on the Lease
	// LeaseNamespace/LeaseName ("" namespace: the pod's).
	LeaderElection            bool
	LeaseNamespace, LeaseName string
	// Git is the top-level git block: the author of the Applications'
	// commits, their signer (git.signing), the forge of their pull
	// requests and the credentials used when no Secret gives any (forge
	// and credentials for the host of Git.URL, or every host when it is
	// empty).
	Git            Repo
	KnownHostsFile string
}

// FromConfig turns a loaded (defaulted and validated) config into plans:
// environments grouped by repository and branch (an environment's git block
// overrides the top level field by field), in config order. It is the only
// reader of config.Config beside the CLI's flags; defaults were applied and
// policies compiled once, by config.Load.
func FromConfig(cfg *config.Config) (*Set, error) {
	s := &Set{Interval: cfg.Interval.Duration, Hosts: Hosts(cfg), Webhooks: map[string]webhook.SecretFunc{}, InsecureWebhooks: cfg.InsecureWebhooks}
	for i, w := range cfg.Webhooks {
		fn, err := webhook.SecretFrom(w.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: webhooks[%d].secret: %w", config.ErrInvalid, orEmbedded(cfg.File), i, err)
		}
		s.Webhooks[w.Type] = fn
	}
	if a := cfg.Applications; a != nil {
		le := cfg.LeaderElection
		s.Kubernetes = &Kubernetes{
			Namespaces: a.Namespaces, Selector: a.Selector, ArgoCDNamespace: a.ArgoCDNamespace,
			LeaderElection: le.IsEnabled(), Git: RepoFromConfig(cfg.Git), KnownHostsFile: cfg.Git.Auth.KnownHostsFile,
		}
		if le != nil {
			s.Kubernetes.LeaseNamespace, s.Kubernetes.LeaseName = le.Namespace, le.Name
		}
	}
	byKey := map[string]*Plan{}
	signers := map[config.Signing]gitrepo.Signer{}
	if s.Kubernetes != nil && cfg.Git.Signing != nil {
		// The Applications' repositories sign with the top-level key.
		sg, err := loadSigner(cfg, -1, *cfg.Git.Signing, signers)
		if err != nil {
			return nil, err
		}
		s.Kubernetes.Git.Signer = sg
	}
	for i := range cfg.Environments {
		env := &cfg.Environments[i]
		g := cfg.EffectiveGit(*env)
		repo := RepoFromConfig(g)
		p, ok := byKey[repo.Key()]
		if !ok {
			if g.Signing != nil {
				sg, err := loadSigner(cfg, i, *g.Signing, signers)
				if err != nil {
					return nil, err
				}
				repo.Signer = sg
			}
			p = &Plan{Repo: repo}
			byKey[repo.Key()] = p
			s.Plans = append(s.Plans, p)
		}
		e := &Environment{Name: env.Name, Path: env.Path, Origin: fmt.Sprintf("%s: environments[%d]", orEmbedded(cfg.File), i),
			Mode: orDefault(env.Mode, ModePush), AutoMerge: env.AutoMerge}
		if pr := env.Promotion; pr != nil {
			e.Gate = &gate.Gate{From: pr.From, Soak: pr.Soak.Duration, RequireHealthy: pr.RequireHealthy}
		}
		for j := range env.Images {
			im := &env.Images[j]
			if im.Policy() == nil {
				return nil, fmt.Errorf("%w: %s: environments[%d].images[%d]: the config was not validated", config.ErrInvalid, orEmbedded(cfg.File), i, j)
			}
			w := &Watch{
				Image: im.Image, Key: Normalize(im.Image), Alias: im.Alias, Policy: im.Policy(),
				KustomizeName: im.KustomizeName, WriteDigest: im.WriteDigest,
			}
			if h := im.Helm; h != nil {
				w.Helm = &Helm{File: h.File, Image: h.Image, Repository: h.Repository, Tag: h.Tag, Digest: h.Digest}
			}
			e.Watches = append(e.Watches, w)
		}
		p.Envs = append(p.Envs, e)
	}
	if err := Check(s.Plans); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", config.ErrInvalid, orEmbedded(cfg.File), err)
	}
	return s, nil
}

// loadSigner reads and parses the signing key of environments[i] (its own
// or the top level's; i < 0: the top level's), once per key: a key that cannot be read or parsed
// is a configuration error, at the field that names it.
func loadSigner(cfg *config.Config, i int, sg config.Signing, cache map[config.Signing]gitrepo.Signer) (gitrepo.Signer, error) {
	if s, ok := cache[sg]; ok {
		return s, nil
	}
	field := "git.signing.key"
	if i >= 0 {
		if e := cfg.Environments[i]; e.Git != nil && e.Git.Signing != nil {
			field = fmt.Sprintf("environments[%d].git.signing.key", i)
		}
	}
	s, err := signing.Load(sg.Key, sg.Format)
	if err != nil {
		return nil, &config.FieldError{File: orEmbedded(cfg.File), Line: cfg.Line(field), Field: field, Err: err}
	}
	cache[sg] = s
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RepoFromConfig maps a git block to a Repo: the one config→gitrepo
// mapping, used by `run` and `history` alike. Secrets are read when the
// repository is opened; the signing key is not loaded here (FromConfig
// does, once).
func RepoFromConfig(g config.Git) Repo {
	r := Repo{URL: g.URL, Branch: g.Branch, Author: gitrepo.Author{Name: g.Author.Name, Email: g.Author.Email}}
	if p := g.Provider; p != nil {
		r.Forge = &Forge{Kind: p.Kind, URL: p.URL, Token: func(context.Context) (string, error) { return g.Token() }}
		r.Forge.Repository, _ = forge.RepositoryPath(g.URL) // checked by Check
	}
	a := g.Auth
	if a != (config.GitAuth{}) {
		r.Auth = func(context.Context) (gitrepo.Auth, error) {
			pw, err := g.Password() // none for file:// and local repositories
			if err != nil {
				return gitrepo.Auth{}, err
			}
			return gitrepo.Auth{Username: a.Username, Password: pw, SSHKeyFile: a.SSHKeyFile, KnownHostsFile: a.KnownHostsFile}, nil
		}
	}
	return r
}

// Hosts turns the config's registries into the registry client's settings.
func Hosts(cfg *config.Config) []registry.Host {
	hosts := make([]registry.Host, 0, len(cfg.Registries))
	for _, r := range cfg.Registries {
		hosts = append(hosts, registry.Host{
			Prefix:        r.Prefix,
			Insecure:      r.Insecure,
			CAFile:        r.CAFile,
			Credentials:   r.Credentials,
			RateLimit:     r.RateLimit,
			ImmutableTags: r.ImmutableTags,
			TagTTL:        r.TagTTL.Duration,
		})
	}
	return hosts
}

func orEmbedded(file string) string {
	if file == "" {
		return "the embedded config"
	}
	return file
}
