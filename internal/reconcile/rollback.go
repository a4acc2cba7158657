package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/internal/rollback"
	"github.com/tagwatch/tagwatch/writeback"
)

// RollbackRequest is `tagwatch rollback` (DESIGN §8b).
type RollbackRequest struct {
	Env   string
	Image string // the watched repository (matched normalised)
	// To is the value to go back to; "" is the value before tagwatch's
	// latest change of the image.
	To string
	// Clear lifts the rollbacks of the image in Env instead: one commit
	// with a Tagwatch-Rollback-Cleared trailer per rolled-back digest.
	Clear  bool
	DryRun bool
}

// ErrNothingToRollBack: the request finds nothing to do (no change of
// tagwatch's to roll back, no rollback to clear).
var ErrNothingToRollBack = errors.New("nothing to roll back")

// ErrAmbiguousImage: the request's image, a short name, names more than
// one watch of the environment.
var ErrAmbiguousImage = errors.New("ambiguous image")

// Rollback makes the one commit of req, pushed like any change: the image
// of env back to the value before tagwatch's last change of it (or To),
// with a Tagwatch-Rollback trailer naming the digest rolled back; or, with
// Clear, a commit lifting the image's rollbacks. The report says what it
// did (or would do, with DryRun).
func (l *Loop) Rollback(ctx context.Context, req RollbackRequest) (Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := newReport()
	p, env, w, err := l.find(req.Env, req.Image)
	if err != nil {
		return rep, err
	}
	if env.Precheck != nil {
		if err := env.Precheck(ctx); err != nil {
			return rep, fmt.Errorf("environment %s: %w", env.Name, err)
		}
	}
	c := &cycle{l: l, ctx: ctx, src: resolve.NewMemo(l.src)}
	repo, err := c.open(ctx, p)
	if err != nil {
		return rep, fmt.Errorf("opening git repository %s: %w", p.Repo.Display(), err)
	}
	defer repo.Close()
	hist := &history{repo: repo, limit: l.o.historyLimit}
	run := &envRun{c: c, env: env, full: p, repo: p.Repo.Display(), log: l.o.log.WithField("repository", p.Repo.Display()), hist: hist}
	if !req.Clear {
		// One writer per field, as in a cycle: a clear writes no field.
		run.conflicts = conflicts(repo.Dir(), p.Envs)
	}
	var edit gitrepo.Edit
	var change Change
	if req.Clear {
		edit, change, err = run.clearEdit(ctx, repo.Dir(), w)
	} else {
		edit, change, err = run.rollbackEdit(ctx, repo.Dir(), w, req.To)
	}
	if err != nil {
		return rep, err
	}
	if env.OwnsBranch() {
		// Pull-request mode: the rollback is proposed like any change, on
		// a branch of its own, so the next cycle (which finds nothing to
		// change in the base, still at the bad value) does not close it.
		edit.Branch = RollbackBranch(env)
		change.Branch = edit.Branch
	}
	if req.DryRun {
		rep.Changes = append(rep.Changes, change)
		return rep, nil
	}
	res, err := repo.Publish(ctx, []gitrepo.Edit{edit})
	if err != nil {
		return rep, fmt.Errorf("publishing to %s: %w", p.Repo.Display(), err)
	}
	e := res.Edits[0]
	switch {
	case e.Err != nil:
		return rep, e.Err
	case edit.Branch != "" && e.Commit != "":
		change.Commit = e.Commit
		if env.Mode == plan.ModePullRequest {
			run.branch, run.branchOutcome, run.repoBranch, run.message = edit.Branch, e.BranchOutcome, repo.Branch(), e.Message
			client, err := ForgeClient(ctx, p.Repo)
			if err != nil {
				return rep, fmt.Errorf("the rollback is on branch %s, but its pull request: %w", edit.Branch, err)
			}
			run.pullRequest(ctx, client, p, repo)
			if len(run.errs) > 0 {
				return rep, fmt.Errorf("the rollback is on branch %s, but its pull request: %w", edit.Branch, run.errs[0].Err)
			}
			change.PullRequest = run.pullRequestURL
		}
	case e.Commit != "":
		change.Commit = e.Commit
		rep.Commits = append(rep.Commits, e.Commit)
	}
	rep.Changes = append(rep.Changes, change)
	return rep, nil
}

// RollbackBranch is the branch a rollback of env goes to in pull-request
// mode: tagwatch-rollback/<environment>, beside the environment's own
// branch (tagwatch/<environment>), which the cycles rewrite.
func RollbackBranch(env *plan.Environment) string { return "tagwatch-rollback/" + env.Name }

// find returns the plan, environment and watch of env and image: the
// repository, as written or normalised, or its trailing path elements
// ("app", "team/app") when they name one watch of env. Trailing elements
// naming several are ErrAmbiguousImage, none ErrNothingToRollBack.
func (l *Loop) find(env, image string) (*plan.Plan, *plan.Environment, *plan.Watch, error) {
	key := plan.Normalize(image)
	for _, p := range l.targets.Plans() {
		e := p.Env(env)
		if e == nil {
			continue
		}
		if w := watchOf(e, key); w != nil {
			return p, e, w, nil
		}
		var matches []*plan.Watch
		for _, w := range e.Watches {
			if (audit.Filter{Image: image}).Match(audit.Change{Image: w.Image}) {
				matches = append(matches, w)
			}
		}
		switch len(matches) {
		case 0:
		case 1:
			return p, e, matches[0], nil
		default:
			names := make([]string, len(matches))
			for i, w := range matches {
				names[i] = w.Image
			}
			return nil, nil, nil, fmt.Errorf("%w: %s names %s in environment %s: give the whole name", ErrAmbiguousImage, image, strings.Join(names, " and "), env)
		}
	}
	return nil, nil, nil, fmt.Errorf("%w: no environment %q watching %s", ErrNothingToRollBack, env, image)
}

// rollbackEdit is the commit moving w back to the value before tagwatch's
// last change of it, or to, with its Tagwatch-Rollback trailer.
func (e *envRun) rollbackEdit(ctx context.Context, dir string, w *plan.Watch, to string) (gitrepo.Edit, Change, error) {
	if _, err := e.hist.read(ctx); err != nil {
		return gitrepo.Edit{}, Change{}, err
	}
	var last *rollback.Event
	for _, ev := range e.hist.events(e.env.Name, w.Key) {
		if ev.Kind == rollback.Update {
			last = &ev
			break
		}
	}
	locs, err := e.targetsOf(dir, w)
	if err != nil {
		return gitrepo.Edit{}, Change{}, err
	}
	bad := locs[0].cur.Tag
	if to == "" {
		switch {
		case last == nil:
			return gitrepo.Edit{}, Change{}, fmt.Errorf("%w: tagwatch never changed %s in %s (in the history read); give --to", ErrNothingToRollBack, w.Image, e.env.Name)
		case last.From == "":
			return gitrepo.Edit{}, Change{}, fmt.Errorf("%w: tagwatch's last change of %s in %s (%.10s) set its first value; give --to", ErrNothingToRollBack, w.Image, e.env.Name, last.Commit)
		}
		to = last.From
	}
	if to == bad {
		return gitrepo.Edit{}, Change{}, fmt.Errorf("%w: %s in %s is already at %s", ErrNothingToRollBack, w.Image, e.env.Name, to)
	}
	badDigest := ""
	if last != nil && last.To == bad {
		badDigest = last.Digest
	} else if badDigest, err = e.c.src.Digest(ctx, w.Image, bad); err != nil {
		return gitrepo.Edit{}, Change{}, fmt.Errorf("the digest of %s:%s, to record as rolled back: %w", w.Image, bad, err)
	}
	val := writeback.Image{Tag: to}
	if w.WantsDigest() {
		if val.Digest, err = e.c.src.Digest(ctx, w.Image, to); err != nil {
			return gitrepo.Edit{}, Change{}, fmt.Errorf("the digest of %s:%s: %w", w.Image, to, err)
		}
	}
	msg := audit.RollbackMessage(audit.Rollback{Env: e.env.Name, Image: w.Image, From: bad, To: to, Digest: badDigest})
	change := Change{Repository: e.repo, Env: e.env.Name, Image: w.Image, File: locs[0].file, From: bad, To: to, Digest: badDigest}
	edit := gitrepo.Edit{Name: e.env.Name, Apply: func(_ context.Context, dir string) (string, []string, error) {
		locs, err := e.locate(dir, writeback.KustomizationFile(dir, e.env.Path), w)
		if err != nil {
			return "", nil, err
		}
		changes, _, err := e.write(dir, w, locs, val)
		files := make([]string, len(changes))
		for i, c := range changes {
			files[i] = c.Path
		}
		if err != nil || len(files) == 0 {
			return "", files, err
		}
		return msg, files, nil
	}}
	for _, l := range locs {
		change.Files = append(change.Files, l.file)
	}
	return edit, change, nil
}

// targetsOf reads the targets of w in dir, refusing any field another
// environment claims too (e.conflicts): a rollback writes every field of
// the image or none.
func (e *envRun) targetsOf(dir string, w *plan.Watch) ([]located, error) {
	e.errs = nil
	locs, err := e.locate(dir, writeback.KustomizationFile(dir, e.env.Path), w)
	if err != nil {
		return nil, fmt.Errorf("reading %s in %s: %w", w.Image, e.env.Name, err)
	}
	if len(e.errs) > 0 {
		errs := make([]error, len(e.errs))
		for i, er := range e.errs {
			errs[i] = er.Err
		}
		return nil, fmt.Errorf("not rolling back %s in %s: %w", w.Image, e.env.Name, errors.Join(errs...))
	}
	return locs, nil
}

// clearEdit is the empty commit lifting every rollback of w in the
// environment.
func (e *envRun) clearEdit(ctx context.Context, dir string, w *plan.Watch) (gitrepo.Edit, Change, error) {
	locs, err := e.targetsOf(dir, w)
	if err != nil {
		return gitrepo.Edit{}, Change{}, err
	}
	commits, err := e.hist.read(ctx)
	if err != nil {
		return gitrepo.Edit{}, Change{}, err
	}
	found := e.detect(commits, e.env, w, locs[0].cur.Tag)
	if len(found) == 0 {
		return gitrepo.Edit{}, Change{}, fmt.Errorf("%w: no rollback of %s in %s to clear", ErrNothingToRollBack, w.Image, e.env.Name)
	}
	digests := make([]string, 0, len(found))
	for d := range found {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	msg := audit.ClearedMessage(e.env.Name, w.Image, digests...)
	change := Change{Repository: e.repo, Env: e.env.Name, Image: w.Image, From: locs[0].cur.Tag, To: locs[0].cur.Tag, Digest: digests[0],
		Reason: "lifted the rollback of " + fmt.Sprint(len(digests)) + " digest(s)"}
	edit := gitrepo.Edit{Name: e.env.Name, Empty: true, Apply: func(context.Context, string) (string, []string, error) { return msg, nil, nil }}
	return edit, change, nil
}
