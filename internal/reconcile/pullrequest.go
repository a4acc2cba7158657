package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/forge"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/writeback"
)

// Pull-request mode (DESIGN §9). An environment whose plan names a branch
// of its own (plan.Environment.WriteBranch: tagwatch/<environment>) has
// its commit made on the base branch's head and pushed to that branch, in
// the same push as the other environments' commits (gitrepo's owned
// branches: made again each cycle, a lease on the head read, another
// writer's commit never overwritten). Then, in pull-request mode, one pull
// request per environment is found by its head branch and opened, updated
// in place or left alone (forge.Ensure), and closed when nothing is left to
// change, which is also what a merged pull request leaves. The base
// branch's history, which promotion gates and rollbacks read, holds a
// change only once it is merged: until then it is not "run".

// branchResult records what Publish did with the environment's branch:
// publishErr is Publish's own error (the base branch's, or the whole
// push's), which reaches the branch only when it did not get out.
func (e *envRun) branchResult(er gitrepo.EditResult, publishErr error) {
	e.branch, e.branchOutcome = er.Branch, er.BranchOutcome
	switch {
	case er.Err != nil:
		stage := StageGit // the branch could not be written
		if errors.Is(er.Err, writeback.ErrOutsideRepo) {
			stage = StageWriteback
		}
		e.errs = append(e.errs, Error{Repository: e.repo, Env: e.env.Name, Error: er.Err.Error(), Err: er.Err, Stage: stage})
		e.changes = nil
		e.branchOutcome = ""
	case er.BranchOutcome == "" && publishErr != nil:
		e.notWritten(publishErr)
	case er.BranchOutcome == gitrepo.BranchStale:
		e.commit = er.Commit // the head to delete, with a lease, once the pull request is closed
	case er.Commit != "":
		e.commit = er.Commit
		e.pending = er.BranchOutcome == gitrepo.BranchUnchanged
		if !e.pending {
			for _, ch := range e.reportChanges() {
				e.log.WithFields(logrus.Fields{"env": ch.Env, "image": ch.Image, "from": ch.From, "to": ch.To, "commit": er.Commit, "branch": er.Branch}).Info("updated on a branch")
			}
		}
	}
}

// pullRequests opens, updates or closes the pull request of every
// environment in pull-request mode whose branch was written (or found
// holding the change, or deleted) this cycle. A forge that fails fails
// those environments only.
func (c *cycle) pullRequests(ctx context.Context, p *plan.Plan, repo Repo, runs []*envRun) {
	var client forge.Client
	var clientErr error
	for _, run := range runs {
		if run.env.Mode != plan.ModePullRequest || run.branchOutcome == "" {
			continue
		}
		if client == nil && clientErr == nil {
			client, clientErr = ForgeClient(ctx, p.Repo)
		}
		if clientErr != nil {
			run.forgeFailed(clientErr)
			continue
		}
		run.pullRequest(ctx, client, p, repo)
	}
}

// ForgeClient makes the client of r's forge (git.provider), reading the
// token now.
func ForgeClient(ctx context.Context, r plan.Repo) (forge.Client, error) {
	f := r.Forge
	if f == nil {
		return nil, fmt.Errorf("%s has no forge (git.provider) to open pull requests on", r.Display())
	}
	token, err := f.Token(ctx)
	if err != nil {
		return nil, err
	}
	u := f.URL
	if u == "" {
		if u, err = forge.DefaultURL(f.Kind, r.URL); err != nil {
			return nil, err
		}
	}
	return forge.New(f.Kind, f.Repository, forge.WithURL(u), forge.WithToken(token))
}

// pullRequest brings the environment's pull request in line with its
// branch: open (or updated in place) while the branch holds a change,
// closed once nothing is left to change.
func (e *envRun) pullRequest(ctx context.Context, client forge.Client, p *plan.Plan, repo Repo) {
	base := e.baseBranch(p)
	log := e.log.WithFields(logrus.Fields{"env": e.env.Name, "branch": e.branch})
	switch e.branchOutcome {
	case gitrepo.BranchStale, gitrepo.BranchDeleted, gitrepo.BranchAbsent:
		// Nothing is left to change: the pull request is closed, then its
		// branch deleted (a forge may lose track of a pull request whose
		// branch went first).
		out, err := forge.CloseFor(ctx, client, e.branch, base)
		if err != nil {
			e.forgeFailed(err)
			return
		}
		if out.Action == forge.Closed {
			log.WithField("pullRequest", out.PR.URL).Info("pull request closed: nothing is left to change")
		}
		if e.branchOutcome == gitrepo.BranchStale {
			if err := repo.DeleteBranch(ctx, e.branch, e.commit); err != nil {
				e.errs = append(e.errs, Error{Repository: e.repo, Env: e.env.Name, Error: err.Error(), Err: err, Stage: StageGit})
			}
		}
		return
	}
	title, body := splitMessage(e.message)
	out, err := forge.Ensure(ctx, client, forge.Spec{Head: e.branch, Base: base, Title: title, Body: body, AutoMerge: e.env.AutoMerge})
	if out.PR != nil {
		e.pullRequestURL = out.PR.URL
	}
	if err != nil {
		e.forgeFailed(err)
		return
	}
	if out.Action != forge.Unchanged {
		log.WithField("pullRequest", out.PR.URL).Info("pull request " + out.Action)
	}
}

// forgeFailed records a failure of the forge's API: the change is on its
// branch, but its pull request is not as it should be.
func (e *envRun) forgeFailed(err error) {
	e.errs = append(e.errs, Error{Repository: e.repo, Env: e.env.Name, Error: err.Error(), Err: err, Stage: StageGit})
	e.log.WithField("env", e.env.Name).WithError(err).Warn("pull request not updated")
}

// baseBranch is the branch pull requests go into: the plan's branch, or,
// for the remote's default, the one the working copy found.
func (e *envRun) baseBranch(p *plan.Plan) string {
	if p.Repo.Branch != "" {
		return p.Repo.Branch
	}
	return e.repoBranch
}

// splitMessage is a commit message's subject and body: a pull request's
// title and description.
func splitMessage(msg string) (title, body string) {
	title, body, _ = strings.Cut(strings.TrimRight(msg, "\n"), "\n")
	return title, strings.TrimLeft(body, "\n") + "\n"
}
