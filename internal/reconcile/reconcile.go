package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/resolve"
)

// Source is what the loop needs of a registry client (*registry.Client).
type Source = resolve.Source

// Repo is what the loop needs of a cached working copy (*gitrepo.Repo).
type Repo interface {
	Dir() string
	Branch() string // the branch read and written (the base of pull requests)
	Publish(ctx context.Context, edits []gitrepo.Edit) (gitrepo.PublishResult, error)
	// Try runs an edit's Apply on the working tree at the base head and
	// puts its files back (a write branch named after the changes).
	Try(ctx context.Context, apply func(ctx context.Context, dir string) (string, []string, error)) error
	// Walk reads history newest first, deepening a shallow copy as needed
	// (promotion gates, rollbacks).
	Walk(ctx context.Context, max int, fn func(gitrepo.CommitInfo) error) (complete bool, err error)
	ChangedFiles(hash string) ([]string, error) // against the first parent
	// RemovedLines lists the lines of file hash removed against its first
	// parent (who rolled a value back).
	RemovedLines(hash, file string) ([]string, error)
	Contains(revision, commit string) (bool, error)
	// DeleteBranch deletes a branch tagwatch owns at head (with a lease),
	// once its pull request is closed.
	DeleteBranch(ctx context.Context, branch, head string) error
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

// Targets is where the plans come from: a config file (Static), Argo CD
// Applications, or both. Plans is called at the start of every cycle and
// must be safe for concurrent use; the plans it returns are not modified
// afterwards.
type Targets interface {
	Plans() []*plan.Plan
}

// Static is a fixed set of plans.
type Static []*plan.Plan

// Plans returns the set.
func (s Static) Plans() []*plan.Plan { return s }

// Observer is told about every finished cycle (readiness, metrics, events).
// It is called from the loop's goroutine and must not block.
type Observer interface {
	CycleDone(Summary)
}

// Summary is a finished cycle as observers see it.
type Summary struct {
	Report   Report
	Err      error // the cycle as a whole failed (also in Report)
	Started  time.Time
	Duration time.Duration
	// Scope is the image repositories a triggered cycle re-checked; nil
	// for a full cycle.
	Scope []string
	// Watched is how many distinct image repositories the plans watch.
	Watched int
	// Pushes are the outcomes of the pushes made, one per repository that
	// had something to push (or had, until a rejected push found nothing
	// left to push after it).
	Pushes []Push
}

// Push is one repository's push of a cycle.
type Push struct {
	Repository string
	Attempts   int // 1 when it went through at once
	// Rejected is how many attempts the remote refused because the branch
	// had moved: each was retried, but the last when Publish gave up.
	Rejected int
	// Pushed: an attempt went through. False with Err nil when, after a
	// rejection, nothing was left to push (the commit that moved the
	// branch made the same change).
	Pushed bool
	Err    error // nil when pushed, or nothing was left to push
}

// DefaultParallelRepositories is how many git repositories a cycle works
// on at once: fetches and pushes are network-bound, edits are cheap.
const DefaultParallelRepositories = 4

// Option configures a Loop.
type Option func(*options) error

type options struct {
	log         *logrus.Entry
	open        Opener
	gitOpts     []gitrepo.Option
	cacheDir    string
	observers   []Observer
	interval    time.Duration
	debounce    time.Duration
	timeout     time.Duration
	repoTimeout time.Duration
	parallel    int
	concurrency int
	dryRun      bool
	// historyLimit bounds the commits read for promotion gates.
	historyLimit int
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

// WithCacheDir is where the git working copies are cached (gitrepo.WithCacheDir).
func WithCacheDir(dir string) Option {
	return func(o *options) error { o.cacheDir = dir; return nil }
}

// WithGitOptions adds options to every gitrepo.Open (after those the plan
// implies), e.g. gitrepo.WithDepth(0) for a server without shallow clones.
func WithGitOptions(opts ...gitrepo.Option) Option {
	return func(o *options) error { o.gitOpts = append(o.gitOpts, opts...); return nil }
}

// WithObserver adds an observer of finished cycles.
func WithObserver(ob Observer) Option {
	return func(o *options) error {
		if ob == nil {
			return errors.New("nil observer")
		}
		o.observers = append(o.observers, ob)
		return nil
	}
}

// WithInterval sets how often Run starts a full cycle (required for Run).
func WithInterval(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("interval %v: must be positive", d)
		}
		o.interval = d
		return nil
	}
}

// WithDebounce sets how long Run waits at most, after a trigger, for more
// before it starts the triggered cycle (default 500ms); it starts sooner
// once the triggers pause for a fifth of it (100ms by default). A burst is
// one cycle; a lone push waits little.
func WithDebounce(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("debounce %v: must not be negative", d)
		}
		o.debounce = d
		return nil
	}
}

// WithRepositoryTimeout abandons one repository's part of a cycle that
// takes longer (a hung git server or forge), reported as that repository's
// error with ErrRepositoryTimeout: the other repositories of the cycle go
// on (0: no limit but the cycle's).
func WithRepositoryTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("repository timeout %s: must not be negative", d)
		}
		o.repoTimeout = d
		return nil
	}
}

// ErrRepositoryTimeout: a repository's part of a cycle took longer than
// WithRepositoryTimeout allows.
var ErrRepositoryTimeout = errors.New("repository timeout")

// causeOf returns err, naming the repository timeout when ctx ended by
// it (go-git and net/http report only "context deadline exceeded").
func causeOf(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ErrRepositoryTimeout) {
		return err
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrRepositoryTimeout) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// WithCycleTimeout abandons a cycle of Run that takes longer (0: no limit).
func WithCycleTimeout(d time.Duration) Option {
	return func(o *options) error { o.timeout = d; return nil }
}

// WithHistoryLimit bounds how many commits of a repository a cycle reads
// (and fetches, into a shallow working copy) for promotion gates (default
// gitrepo.DefaultMaxHistory). A gate whose from environment's latest change
// is older stays closed, and says so.
func WithHistoryLimit(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("history limit %d: must be at least 1", n)
		}
		o.historyLimit = n
		return nil
	}
}

// WithDryRun makes every cycle of Run a dry run.
func WithDryRun(on bool) Option {
	return func(o *options) error { o.dryRun = on; return nil }
}

// Loop runs cycles over the plans of its Targets: one cycle at a time, each
// over every repository (in parallel, bounded) or, when triggered, over the
// environments watching the triggered image repositories only.
type Loop struct {
	mu      sync.Mutex // one cycle at a time
	src     Source
	targets Targets
	o       options

	trigMu  sync.Mutex
	pending map[string]bool // image repositories to re-check; "" = all
	wake    chan struct{}   // a trigger arrived (capacity 1)
	drain   chan struct{}   // closed by Drain
	drainMu sync.Once
}

// New makes a Loop over the plans of targets, reading registries through src.
func New(src Source, targets Targets, opts ...Option) (*Loop, error) {
	if src == nil || targets == nil {
		return nil, errors.New("reconcile: nil source or targets")
	}
	o := options{
		log:          discardLogger(),
		open:         OpenGit,
		debounce:     500 * time.Millisecond,
		parallel:     DefaultParallelRepositories,
		historyLimit: gitrepo.DefaultMaxHistory,
		concurrency:  resolve.DefaultConcurrency,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
	}
	return &Loop{
		src: src, targets: targets, o: o,
		pending: map[string]bool{},
		wake:    make(chan struct{}, 1),
		drain:   make(chan struct{}),
	}, nil
}

// Trigger asks Run for a cycle over the environments watching the image
// repositories given, normalised as plan.Watch.Key is (plan.Normalize:
// "index.docker.io/library/nginx" for nginx); none means every
// environment. It never
// blocks: triggers that arrive before the cycle starts are merged.
func (l *Loop) Trigger(repos ...string) {
	l.trigMu.Lock()
	if len(repos) == 0 {
		l.pending[""] = true
	}
	for _, r := range repos {
		l.pending[r] = true
	}
	l.trigMu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// takePending returns and clears the triggered repositories; all reports a
// trigger of everything.
func (l *Loop) takePending() (repos []string, all bool) {
	l.trigMu.Lock()
	defer l.trigMu.Unlock()
	for r := range l.pending {
		if r == "" {
			all = true
		} else {
			repos = append(repos, r)
		}
	}
	clear(l.pending)
	return repos, all
}

// Drain asks Run to return after the cycle under way (a graceful stop:
// SIGTERM). Cancelling Run's ctx instead is a hard stop: the cycle under way
// stops before its next push.
func (l *Loop) Drain() { l.drainMu.Do(func() { close(l.drain) }) }

// Run runs a full cycle at once and then every interval, and a partial
// cycle for each (debounced) trigger, until Drain (after the cycle under way)
// or ctx ends (at once: nothing is pushed after that). It returns nil after
// Drain and ctx's error after a hard stop.
func (l *Loop) Run(ctx context.Context) error {
	if l.o.interval <= 0 {
		return errors.New("reconcile: Run needs WithInterval")
	}
	timer := time.NewTimer(0) // the first full cycle at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.drain:
			return nil
		case <-timer.C:
			l.runCycle(ctx, nil)
			timer.Reset(l.o.interval)
		case <-l.wake:
			if !l.debounced(ctx) {
				continue
			}
			repos, all := l.takePending()
			if all {
				l.runCycle(ctx, nil)
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(l.o.interval)
				continue
			}
			if len(repos) > 0 {
				l.runCycle(ctx, repos)
			}
		}
	}
}

// debounced waits until the triggers pause for a quiet spell (a fifth of
// the debounce: 100ms by default) or the debounce has passed since the
// first one: a burst is one cycle, a lone push waits little. False when Run
// must stop instead.
func (l *Loop) debounced(ctx context.Context) bool {
	if l.o.debounce == 0 {
		return true
	}
	quiet := l.o.debounce / 5
	deadline := time.NewTimer(l.o.debounce)
	defer deadline.Stop()
	spell := time.NewTimer(quiet)
	defer spell.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-l.drain:
			return false
		case <-deadline.C:
			return true
		case <-spell.C:
			return true
		case <-l.wake: // another trigger: the spell starts again
			if !spell.Stop() {
				select {
				case <-spell.C:
				default:
				}
			}
			spell.Reset(quiet)
		}
	}
}

// runCycle runs one cycle of Run (scope nil: all) and tells the observers.
func (l *Loop) runCycle(ctx context.Context, scope []string) {
	if l.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.o.timeout)
		defer cancel()
	}
	opts := []CycleOption{DryRun(l.o.dryRun)}
	if scope != nil {
		opts = append(opts, Only(scope...))
	}
	if _, err := l.Cycle(ctx, opts...); err != nil {
		l.o.log.WithError(err).Error("cycle failed")
	}
}

func discardLogger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}
