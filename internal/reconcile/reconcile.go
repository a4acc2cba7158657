package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/registry"
)

// Source is what the loop needs of a registry client (*registry.Client):
// what resolve needs. Each cycle asks it through its own resolve.Memo.
type Source interface {
	resolve.Source
}

// Repo is what the loop needs of a cached working copy (*gitrepo.Repo).
type Repo interface {
	Dir() string
	Publish(ctx context.Context, edits []gitrepo.Edit) (gitrepo.PublishResult, error)
	Close() error // lets the working copy go, for the next cycle or process
}

// Opener opens the cached working copy of url (gitrepo.Open).
type Opener func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error)

// OpenGit is the default Opener.
func OpenGit(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
	r, err := gitrepo.Open(ctx, url, opts...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ErrConfig is wrapped by New's errors about the configuration.
var ErrConfig = errors.New("invalid configuration")

// Option configures a Reconciler.
type Option func(*options) error

type options struct {
	log         *logrus.Entry
	open        Opener
	gitOpts     []gitrepo.Option
	cacheDir    string
	concurrency int
}

// WithLogger sets the logger; default: discard.
func WithLogger(e *logrus.Entry) Option {
	return func(o *options) error {
		if e == nil {
			return errors.New("nil logger")
		}
		o.log = e
		return nil
	}
}

// WithOpener replaces gitrepo.Open (tests).
func WithOpener(open Opener) Option {
	return func(o *options) error {
		if open == nil {
			return errors.New("nil opener")
		}
		o.open = open
		return nil
	}
}

// WithCacheDir is where the git working copy is cached (gitrepo.WithCacheDir).
func WithCacheDir(dir string) Option {
	return func(o *options) error { o.cacheDir = dir; return nil }
}

// WithGitOptions adds options to every gitrepo.Open (after those the
// config implies), e.g. gitrepo.WithDepth(0) for a server without shallow
// clones.
func WithGitOptions(opts ...gitrepo.Option) Option {
	return func(o *options) error { o.gitOpts = append(o.gitOpts, opts...); return nil }
}

// WithConcurrency bounds the image repositories resolved at once (default 8).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: must be at least 1", n)
		}
		o.concurrency = n
		return nil
	}
}

// watch is one image entry of one environment, compiled.
type watch struct {
	env    int // index in cfg.Environments
	idx    int // index in the environment's images
	img    config.Image
	policy *policy.Policy
	alias  string
}

// Reconciler runs cycles for one configuration, one cycle at a time (each
// cycle opens the cached working copy, which only one writer may use).
type Reconciler struct {
	mu      sync.Mutex // one cycle at a time
	cfg     *config.Config
	src     Source
	o       options
	watches [][]watch // by environment
}

// New compiles cfg's policies. Errors about cfg wrap ErrConfig.
func New(cfg *config.Config, src Source, opts ...Option) (*Reconciler, error) {
	if cfg == nil || src == nil {
		return nil, errors.New("reconcile: nil config or source")
	}
	o := options{
		log:         discardLogger(),
		open:        OpenGit,
		concurrency: 8,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
	}
	o.log = o.log.WithField("repo", cfg.Git.URL)
	r := &Reconciler{cfg: cfg, src: src, o: o, watches: make([][]watch, len(cfg.Environments))}
	for i, env := range cfg.Environments {
		for j, img := range env.Images {
			p, err := policy.New(img.PolicySpec())
			if err != nil {
				return nil, fmt.Errorf("%w: environments[%d] (%s) images[%d] (%s): %w", ErrConfig, i, env.Name, j, img.Image, err)
			}
			alias := img.Alias
			if alias == "" {
				alias = config.DefaultAlias(img.Image)
			}
			r.watches[i] = append(r.watches[i], watch{env: i, idx: j, img: img, policy: p, alias: alias})
		}
	}
	return r, nil
}

// Hosts turns the config's registries into the registry client's settings:
// the one mapping, used by `run` and by `test --config`.
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
		})
	}
	return hosts
}

func discardLogger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}
