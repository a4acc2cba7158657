package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
)

// CycleOption configures one cycle.
type CycleOption func(*cycleOptions)

type cycleOptions struct {
	dryRun bool
	only   map[string]bool // nil: every watch
}

// DryRun computes the cycle and writes nothing: no commit, no push, and the
// cached working copies stay clean.
func DryRun(on bool) CycleOption { return func(o *cycleOptions) { o.dryRun = on } }

// Only limits the cycle to the watches of the given image repositories
// (normalised names, as plan.Watch.Key: index.docker.io/library/nginx),
// and so to the environments and repositories that have one.
func Only(repos ...string) CycleOption {
	return func(o *cycleOptions) {
		o.only = map[string]bool{}
		for _, r := range repos {
			o.only[r] = true
		}
	}
}

// Cycle runs one cycle over every plan of the loop's targets, repositories
// in parallel. The error is non-nil only when every repository of the
// cycle failed as a whole (could not be opened or pushed, or none of its
// environments met its precondition); each such failure is also in the
// report. Failures of single images, environments or
// repositories are in the report only.
func (l *Loop) Cycle(ctx context.Context, opts ...CycleOption) (Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var co cycleOptions
	for _, opt := range opts {
		opt(&co)
	}
	start := time.Now()
	all := l.targets.Plans()
	plans, full := scope(all, co.only)
	c := &cycle{l: l, ctx: ctx, co: co, src: resolve.NewMemo(l.src), found: map[foundKey]*futureFound{}, claims: newBranchClaims(all)}
	for _, p := range plans {
		for _, e := range p.Envs {
			for _, w := range e.Watches {
				c.resolve(w)
			}
		}
	}
	results := make([]planResult, len(plans))
	g := errgroup.Group{}
	g.SetLimit(l.o.parallel)
	for i, p := range plans {
		g.Go(func() error {
			ctx := ctx
			if l.o.repoTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeoutCause(ctx, l.o.repoTimeout, fmt.Errorf("%w (%s)", ErrRepositoryTimeout, l.o.repoTimeout))
				defer cancel()
			}
			results[i] = c.plan(ctx, p, full[i])
			return nil
		})
	}
	_ = g.Wait()

	rep := newReport()
	var failed []error
	var pushes []Push
	for _, r := range results {
		rep.merge(r.report)
		if r.err != nil {
			failed = append(failed, r.err)
		}
		if r.push != nil {
			pushes = append(pushes, *r.push)
		}
	}
	var err error
	if len(failed) > 0 && len(failed) == len(plans) {
		err = errors.Join(failed...)
	}
	sum := Summary{Report: rep, Err: err, Started: start, Duration: time.Since(start), Pushes: pushes, Watched: watched(all)}
	if co.only != nil {
		sum.Scope = slices.Sorted(maps.Keys(co.only))
	}
	l.o.log.WithFields(logrus.Fields{
		"repositories": len(plans), "changes": len(rep.Changes), "held": len(rep.Held),
		"errors": len(rep.Errors), "commits": len(rep.Commits), "duration": sum.Duration.Round(time.Millisecond).String(),
	}).Info("cycle done")
	for _, ob := range l.o.observers {
		ob.CycleDone(sum)
	}
	return rep, err
}

// watched counts the distinct image repositories of plans.
func watched(plans []*plan.Plan) int {
	keys := map[string]bool{}
	for _, p := range plans {
		for _, e := range p.Envs {
			for _, w := range e.Watches {
				keys[w.Key] = true
			}
		}
	}
	return len(keys)
}

// scope keeps, of plans, the environments and watches of the image
// repositories in only (all when only is nil), and returns beside each kept
// plan the whole plan it was cut from. An environment writing a branch of
// its own (pull-request mode, a write branch, fixed or rendered) is kept
// whole. Plans are not modified.
func scope(plans []*plan.Plan, only map[string]bool) (scoped, full []*plan.Plan) {
	if only == nil {
		return plans, plans
	}
	var out []*plan.Plan
	for _, p := range plans {
		if !p.Watches(only) {
			continue
		}
		np := &plan.Plan{Repo: p.Repo}
		for _, e := range p.Envs {
			var ws []*plan.Watch
			for _, w := range e.Watches {
				if only[w.Key] {
					ws = append(ws, w)
				}
			}
			if len(ws) > 0 && e.OwnsBranch() {
				// A branch of its own is made again whole each cycle: every
				// image of the environment, or the others' changes would go
				// (or, for a rendered name, another name would be made).
				ws = e.Watches
			}
			if len(ws) > 0 {
				ne := *e
				ne.Watches = ws
				np.Envs = append(np.Envs, &ne)
			}
		}
		out = append(out, np)
		full = append(full, p)
	}
	return out, full
}

// cycle is the state one cycle shares between its repositories.
type cycle struct {
	l   *Loop
	ctx context.Context
	co  cycleOptions
	src *resolve.Memo // the cycle's memo: each image repository listed once, across repositories
	// claims are the branches a rendered write branch must not be
	// (branchtemplate.go).
	claims *branchClaims

	mu    sync.Mutex
	found map[foundKey]*futureFound
	sem   chan struct{}
	sel   selections // the cycle's rankings and decisions (choose.go)
}

// foundKey identifies a resolution: environments often share a policy.
type foundKey struct {
	image  string
	policy string
}

// futureFound is the candidate tags of a watch, or why there are none,
// available once done is closed.
type futureFound struct {
	done chan struct{}
	tags []policy.Tag
	err  error
}

// resolve starts (once per image and policy) listing w's repository and
// computing its candidates, bounded by the loop's concurrency.
func (c *cycle) resolve(w *plan.Watch) *futureFound {
	key := c.keyOf(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.found[key]; ok {
		return f
	}
	if c.sem == nil {
		c.sem = make(chan struct{}, c.l.o.concurrency)
	}
	f := &futureFound{done: make(chan struct{})}
	c.found[key] = f
	go func() {
		defer close(f.done)
		select {
		case c.sem <- struct{}{}:
			defer func() { <-c.sem }()
		case <-c.ctx.Done():
			f.err = c.ctx.Err()
			return
		}
		f.tags, f.err = resolve.Candidates(c.ctx, c.src, w.Policy, w.Image)
		if f.err != nil {
			f.err = fmt.Errorf("resolving tags of %s: %w", w.Image, f.err)
		}
	}()
	return f
}

// candidates waits for w's resolution, or until ctx (its repository's)
// ends.
func (c *cycle) candidates(ctx context.Context, w *plan.Watch) ([]policy.Tag, error) {
	f := c.resolve(w)
	select {
	case <-f.done: // a result at hand wins over a stop
		return f.tags, f.err
	default:
	}
	select {
	case <-f.done:
		return f.tags, f.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// planResult is one repository's part of a cycle.
type planResult struct {
	report Report
	err    error // the repository failed as a whole
	push   *Push
}

// plan runs one repository: open (or sync) its working copy, apply every
// environment of p that meets its precondition (precheck), and publish
// them in one push, within ctx (the cycle's, bounded by the repository
// timeout). full is the whole plan p was scoped from: who else writes a
// field is decided over all of it, an environment whose precondition
// fails included (a claim does not come and go with a Secret).
func (c *cycle) plan(ctx context.Context, p, full *plan.Plan) planResult {
	repoName := p.Repo.Display()
	log := c.l.o.log.WithField("repository", repoName)
	res := planResult{report: newReport()}
	fail := func(stage string, err error) planResult {
		res.err = err
		res.report.Errors = append(res.report.Errors, Error{Repository: repoName, Error: err.Error(), Err: err, Stage: stage})
		log.WithError(err).Error("repository skipped")
		return res
	}
	// Ordered over the whole plan: an environment promoted from one whose
	// precondition fails reads its history all the same.
	envs, err := ordered(p, full)
	if err != nil {
		return fail(StageConfig, err)
	}
	envs, unmet := c.precheck(ctx, repoName, envs, log)
	res.report.Errors = append(res.report.Errors, unmet...)
	if len(envs) == 0 && len(unmet) > 0 {
		// Every environment failed its precondition: the repository is
		// not opened, and so failed as a whole.
		errs := make([]error, len(unmet))
		for i, e := range unmet {
			errs[i] = e.Err
		}
		res.err = errors.Join(errs...)
		return res
	}
	repo, err := c.open(ctx, p)
	if err != nil {
		return fail(StageGit, fmt.Errorf("opening git repository %s: %w", repoName, causeOf(ctx, err)))
	}
	defer repo.Close()
	hist := &history{repo: repo, limit: c.l.o.historyLimit}
	var prom *promotions
	if gated(envs) {
		// Before any commit of this cycle: a gate sees its from environment
		// as Git had it at the cycle's start.
		prom = c.readPromotions(ctx, repo, hist, envs, full)
	}
	runs := make([]*envRun, len(envs))
	shared := conflicts(repo.Dir(), full.Envs)
	for i, e := range envs {
		runs[i] = &envRun{c: c, env: e, full: full, repo: repoName, log: log, conflicts: shared, prom: prom, hist: hist,
			branch: e.WriteBranch(), repoBranch: repo.Branch()}
	}
	var pubErr error
	if c.co.dryRun {
		if err := dryRun(ctx, repo, runs); err != nil {
			return fail(StageWriteback, err)
		}
		for _, run := range runs {
			if run.env.BranchTemplate != nil {
				c.nameBranch(p, run)
			}
		}
	} else {
		if err := c.renderBranches(ctx, p, repo, runs); err != nil {
			return fail(StageGit, err)
		}
		pubErr = c.publish(ctx, p, repo, runs, &res)
	}
	for _, run := range runs {
		res.report.Held = append(res.report.Held, run.held...)
		res.report.Errors = append(res.report.Errors, run.errs...)
		if run.commit != "" || c.co.dryRun {
			for _, ch := range run.reportChanges() {
				ch.Commit = run.commit
				res.report.Changes = append(res.report.Changes, ch)
			}
		}
	}
	if pubErr != nil {
		res.err = pubErr
		res.report.Errors = append(res.report.Errors, Error{Repository: repoName, Error: pubErr.Error(), Err: pubErr, Stage: StageGit})
	}
	return res
}

// precheck checks the preconditions of envs (plan.Environment.Precheck)
// and returns the environments that meet theirs (envs itself when all
// do), and an error of each that does not: its own, so that it alone is
// left out of the cycle.
func (c *cycle) precheck(ctx context.Context, repoName string, envs []*plan.Environment, log *logrus.Entry) ([]*plan.Environment, []Error) {
	kept := envs
	var errs []Error
	for i, e := range envs {
		var err error
		if e.Precheck != nil {
			err = causeOf(ctx, e.Precheck(ctx))
		}
		switch {
		case err != nil:
			if errs == nil {
				kept = slices.Clone(envs[:i])
			}
			errs = append(errs, Error{Repository: repoName, Env: e.Name, Error: err.Error(), Err: err, Stage: StageGit})
			log.WithField("env", e.Name).WithError(err).Error("environment skipped")
		case errs != nil:
			kept = append(kept, e)
		}
	}
	return kept, errs
}

// ordered is p's environments in promotion order, the order of full, the
// plan p was scoped from: a triggered cycle may keep an environment and
// not the one it is promoted from (which does not watch the image), whose
// gate then closes with its reason rather than failing the repository.
func ordered(p, full *plan.Plan) ([]*plan.Environment, error) {
	order, err := full.Order()
	if err != nil || p == full {
		return order, err
	}
	in := make(map[string]*plan.Environment, len(p.Envs))
	for _, e := range p.Envs {
		in[e.Name] = e
	}
	out := make([]*plan.Environment, 0, len(p.Envs))
	for _, e := range order {
		if se, ok := in[e.Name]; ok {
			out = append(out, se)
		}
	}
	return out, nil
}

// gated reports whether an environment of envs has a promotion gate.
func gated(envs []*plan.Environment) bool {
	for _, e := range envs {
		if e.Gate != nil {
			return true
		}
	}
	return false
}

// open opens the plan's working copy, reading its credentials now, so a
// rotated token is picked up.
func (c *cycle) open(ctx context.Context, p *plan.Plan) (Repo, error) {
	opts, err := p.Repo.Options(ctx)
	if err != nil {
		return nil, err
	}
	if c.l.o.cacheDir != "" {
		opts = append(opts, gitrepo.WithCacheDir(c.l.o.cacheDir))
	}
	return c.l.o.open(ctx, p.Repo.URL, append(opts, c.l.o.gitOpts...)...)
}

// publish commits every environment's edit in one push, never after the
// cycle's ctx ended (a hard stop), and records the commits. The edits of
// environments that write a branch of their own (pull-request mode, a
// write branch) go to that branch in the same push; their pull requests
// are opened, updated or closed after it (pullRequests), while the working
// copy is still held. A rendered branch (renderBranches) is never deleted
// by Publish: it is kept when nothing is left to change (DeferDelete), and
// nothing deletes it later.
func (c *cycle) publish(ctx context.Context, p *plan.Plan, repo Repo, runs []*envRun, res *planResult) error {
	repoName := p.Repo.Display()
	var edits []gitrepo.Edit
	for _, run := range runs {
		if run.noEdit {
			continue
		}
		e := gitrepo.Edit{Name: run.env.Name, Apply: run.apply, Branch: run.branch, DeferDelete: run.env.Mode == plan.ModePullRequest}
		if run.env.BranchTemplate != nil {
			e.Apply, e.DeferDelete = run.applyRendered, true
		}
		edits = append(edits, e)
	}
	pub, err := repo.Publish(ctx, edits)
	err = causeOf(ctx, err)
	if pub.Pushed || err != nil || len(pub.Rejections) > 0 {
		res.push = &Push{Repository: repoName, Attempts: pub.Attempts, Rejected: len(pub.Rejections), Pushed: pub.Pushed, Err: err}
	}
	for i, why := range pub.Rejections {
		c.l.o.log.WithFields(logrus.Fields{"repository": repoName, "attempt": i + 1}).WithError(why).Warn("push rejected: the branch moved; fetching it and applying the changes again")
	}
	if err != nil {
		err = fmt.Errorf("publishing to %s: %w", repoName, err)
		c.l.o.log.WithField("repository", repoName).WithError(err).Error("push failed")
	}
	byName := make(map[string]gitrepo.EditResult, len(pub.Edits))
	for _, e := range pub.Edits {
		byName[e.Name] = e
	}
	for _, run := range runs {
		if run.noEdit {
			continue
		}
		er := byName[run.env.Name]
		if run.env.OwnsBranch() {
			run.branchResult(er, err)
			continue
		}
		switch {
		case err != nil:
			run.notWritten(err)
		case er.Err != nil:
			run.errs = append(run.errs, Error{Repository: repoName, Env: run.env.Name, Error: er.Err.Error(), Err: er.Err, Stage: StageWriteback})
			run.changes = nil
		case er.Commit != "":
			run.commit = er.Commit
			res.report.Commits = append(res.report.Commits, er.Commit)
			for _, ch := range run.reportChanges() {
				run.log.WithFields(logrus.Fields{"env": ch.Env, "image": ch.Image, "from": ch.From, "to": ch.To, "commit": er.Commit}).Info("updated")
			}
		}
	}
	c.pullRequests(ctx, p, repo, runs)
	return err
}

// notWritten turns the environment's changes into errors: the push that
// was to carry them failed with err.
func (e *envRun) notWritten(err error) {
	for _, ch := range e.reportChanges() {
		e.errs = append(e.errs, Error{Repository: e.repo, Env: ch.Env, Image: ch.Image, Stage: StageGit, Err: err,
			Error: fmt.Sprintf("%s -> %s not written: %v", orNone(ch.From), ch.To, err)})
	}
	e.changes = nil
}
