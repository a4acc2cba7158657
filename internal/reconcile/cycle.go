package reconcile

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
)

// CycleOption configures one cycle.
type CycleOption func(*cycleOptions)

type cycleOptions struct{ dryRun bool }

// DryRun computes the cycle and writes nothing: no commit, no push, and the
// cached working copy stays clean.
func DryRun(on bool) CycleOption { return func(o *cycleOptions) { o.dryRun = on } }

// Cycle runs one cycle. The error is non-nil only when the cycle as a whole
// failed (the git repository could not be opened or pushed); it is also in
// the report. Failures of single images or environments are only in the report.
func (r *Reconciler) Cycle(ctx context.Context, opts ...CycleOption) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var co cycleOptions
	for _, opt := range opts {
		opt(&co)
	}
	rep := newReport()
	log := r.o.log

	src := resolve.NewMemo(r.src) // the cycle's memo: each repository listed once
	repo, err := r.openRepo(ctx)
	if err != nil {
		err = fmt.Errorf("opening git repository: %w", err)
		rep.Errors = append(rep.Errors, Error{Error: err.Error()})
		return rep, err
	}
	defer repo.Close()
	found := r.resolve(ctx, src)

	runs := make([]*envRun, len(r.cfg.Environments))
	for i := range r.cfg.Environments {
		runs[i] = &envRun{r: r, ctx: ctx, idx: i, found: found[i], src: src}
	}

	var pubErr error
	if co.dryRun {
		pubErr = dryRun(repo.Dir(), runs)
	} else {
		pubErr = r.publish(ctx, repo, runs, &rep)
	}

	for _, run := range runs {
		rep.Held = append(rep.Held, run.held...)
		rep.Errors = append(rep.Errors, run.errs...)
		if run.commit != "" || co.dryRun && pubErr == nil {
			for _, c := range reportChanges(run.changes) {
				c.Commit = run.commit
				rep.Changes = append(rep.Changes, c)
			}
		}
	}
	if pubErr != nil {
		return rep, pubErr // the caller logs it
	}
	log.WithFields(logrus.Fields{"changes": len(rep.Changes), "held": len(rep.Held), "errors": len(rep.Errors), "commits": len(rep.Commits)}).Info("cycle done")
	return rep, nil
}

// publish commits every environment's edit in one push and fills rep.Commits.
func (r *Reconciler) publish(ctx context.Context, repo Repo, runs []*envRun, rep *Report) error {
	edits := make([]gitrepo.Edit, len(runs))
	for i, run := range runs {
		edits[i] = gitrepo.Edit{Name: r.cfg.Environments[i].Name, Apply: run.apply}
	}
	res, err := repo.Publish(ctx, edits)
	if err != nil {
		err = fmt.Errorf("publishing to %s: %w", r.cfg.Git.URL, err)
		for _, run := range runs {
			for _, c := range reportChanges(run.changes) {
				rep.Errors = append(rep.Errors, Error{Env: c.Env, Image: c.Image, Error: fmt.Sprintf("%s -> %s not written: %v", orNone(c.From), c.To, err)})
			}
		}
		rep.Errors = append(rep.Errors, Error{Error: err.Error()})
		return err
	}
	byName := make(map[string]gitrepo.EditResult, len(res.Edits))
	for _, e := range res.Edits {
		byName[e.Name] = e
	}
	for i, run := range runs {
		env := r.cfg.Environments[i].Name
		er := byName[env]
		switch {
		case er.Err != nil:
			rep.Errors = append(rep.Errors, Error{Env: env, Error: er.Err.Error()})
		case er.Commit != "":
			run.commit = er.Commit
			rep.Commits = append(rep.Commits, er.Commit)
			for _, c := range reportChanges(run.changes) {
				r.o.log.WithFields(logrus.Fields{"env": env, "image": c.Image, "from": c.From, "to": c.To, "commit": er.Commit}).Info("updated")
			}
		}
	}
	return nil
}

// openRepo opens (clones or syncs) the cached working copy, reading the
// secrets the config names now, so a rotated token is picked up.
func (r *Reconciler) openRepo(ctx context.Context) (Repo, error) {
	g := r.cfg.Git
	auth := gitrepo.Auth{Username: g.Auth.Username, SSHKeyFile: g.Auth.SSHKeyFile, KnownHostsFile: g.Auth.KnownHostsFile}
	pw, err := g.Password()
	if err != nil {
		return nil, err
	}
	auth.Password = pw
	opts := []gitrepo.Option{gitrepo.WithAuth(auth)}
	if r.o.cacheDir != "" {
		opts = append(opts, gitrepo.WithCacheDir(r.o.cacheDir))
	}
	if g.Branch != "" {
		opts = append(opts, gitrepo.WithBranch(g.Branch))
	}
	if g.Author.Name != "" || g.Author.Email != "" {
		opts = append(opts, gitrepo.WithAuthor(gitrepo.Author{Name: g.Author.Name, Email: g.Author.Email}))
	}
	return r.o.open(ctx, g.URL, append(opts, r.o.gitOpts...)...)
}

// found is the candidate tags of one watch, or why there are none.
type found struct {
	tags []policy.Tag
	err  error
}

// resolve lists every watched repository once and computes each watch's
// candidates, repositories in parallel. Result is indexed like r.watches.
func (r *Reconciler) resolve(ctx context.Context, src resolve.Source) [][]found {
	out := make([][]found, len(r.watches))
	byRepo := map[string][]*watch{}
	var order []string
	for i := range r.watches {
		out[i] = make([]found, len(r.watches[i]))
		for j := range r.watches[i] {
			w := &r.watches[i][j]
			if _, ok := byRepo[w.img.Image]; !ok {
				order = append(order, w.img.Image)
			}
			byRepo[w.img.Image] = append(byRepo[w.img.Image], w)
		}
	}
	var g errgroup.Group
	g.SetLimit(r.o.concurrency)
	for _, repo := range order {
		g.Go(func() error {
			// Environments often share a policy: resolve each one once.
			bySpec := map[string]found{}
			for _, w := range byRepo[repo] {
				key := fmt.Sprintf("%#v", w.policy.Spec())
				f, ok := bySpec[key]
				if !ok {
					tags, err := resolve.Candidates(ctx, src, w.policy, repo)
					if err != nil {
						err = fmt.Errorf("resolving tags of %s: %w", repo, err)
					}
					f = found{tags: tags, err: err}
					bySpec[key] = f
				}
				out[w.env][w.idx] = f // shared read-only: Select never mutates its input
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}
