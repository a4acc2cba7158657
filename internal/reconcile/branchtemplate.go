package reconcile

import (
	"context"
	"fmt"
	"sync"

	"github.com/tagwatch/tagwatch/internal/plan"
)

// Write-branch templates (plan.Environment.BranchTemplate: Argo CD Image
// Updater's git-branch base:<template>). The branch of such an
// environment is named by the changes of its commit, so it is known only
// once they are: before Publish, the environment is applied to the working
// tree at the base head and its files put back (Repo.Try), and its changes
// render the name. Then its edit goes to that branch under
// the rules of the branches tagwatch owns (gitrepo's: made from the base
// head, another writer's head never overwritten, a lease), and:
//
//   - nothing to change: no edit, no branch (an existing one is left);
//   - the same changes again: the same name, a branch that holds them
//     already, nothing pushed;
//   - other changes (a newer tag): another name, a new branch; the branches
//     of earlier changes are left as they are, as Image Updater leaves
//     them (tagwatch deletes no branch it did not name this cycle);
//   - a render that is no valid branch, the base branch, or a branch
//     another environment of the repository writes or commits to: that
//     environment fails (its error), the others of the repository go on.
//
// Publish applies the edit again on the remote head (and again after a
// rejected push); when the changes found then render another name, the
// edit fails and the next cycle writes them.

// branchClaims are the branches of each repository that a rendered name
// must not be: the base branches of plans and the fixed write branches of
// environments (as the cycle starts), and the names rendered so far this
// cycle (first come, first served).
type branchClaims struct {
	mu    sync.Mutex
	taken map[string]string // repository + "\x00" + branch → whose it is
}

func newBranchClaims(plans []*plan.Plan) *branchClaims {
	bc := &branchClaims{taken: map[string]string{}}
	for _, p := range plans {
		if b := p.Repo.Branch; b != "" && len(p.Envs) > 0 {
			bc.add(p, b, "the branch environment "+p.Envs[0].Name+" commits to")
		}
	}
	for _, p := range plans {
		for _, e := range p.Envs {
			if b := e.WriteBranch(); b != "" {
				bc.add(p, b, "the branch environment "+e.Name+" writes")
			}
		}
	}
	return bc
}

// add records whose branch of p's repository is, unless known already.
func (bc *branchClaims) add(p *plan.Plan, branch, whose string) {
	if k := p.Repo.Repository() + "\x00" + branch; bc.taken[k] == "" {
		bc.taken[k] = whose
	}
}

// claim takes branch of p's repository for environment env, whose base is
// the branch base; it fails when the branch is base or taken already.
func (bc *branchClaims) claim(p *plan.Plan, base, branch, env string) error {
	if branch == base {
		return fmt.Errorf("%w: it renders %s, the branch the environment is based on, which tagwatch never rewrites", plan.ErrBranchTemplate, branch)
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	k := p.Repo.Repository() + "\x00" + branch
	if whose, ok := bc.taken[k]; ok {
		return fmt.Errorf("%w: it renders %s, which is %s of %s", plan.ErrBranchTemplate, branch, whose, p.Repo.Display())
	}
	bc.taken[k] = "the branch environment " + env + " renders"
	return nil
}

// renderBranches names the branch of every environment of runs with a
// write-branch template: each is applied to the working tree at the base
// head, its files put back (Repo.Try: the cost of the files it writes, not
// of a copy of the tree; BenchmarkBranchTemplateCycle), then named
// (nameBranch). An error is the working copy's, which could not be put
// back: the repository fails.
func (c *cycle) renderBranches(ctx context.Context, p *plan.Plan, repo Repo, runs []*envRun) error {
	for _, run := range runs {
		if run.env.BranchTemplate == nil {
			continue
		}
		if err := repo.Try(ctx, run.apply); err != nil {
			return fmt.Errorf("naming the write branch of %s: %w", run.env.Name, err)
		}
		c.nameBranch(p, run)
	}
	return nil
}

// nameBranch renders the branch of run's changes (the latest apply's)
// and claims it: run.branch is set, or, when there is nothing to change
// or the name is refused, run has no edit this cycle (the refusal is its
// error, its changes dropped).
func (c *cycle) nameBranch(p *plan.Plan, run *envRun) {
	if len(run.changes) == 0 {
		run.noEdit = true
		return
	}
	b, err := run.env.RenderBranch(run.branchChanges)
	if err == nil {
		err = c.claims.claim(p, run.repoBranch, b, run.env.Name)
	}
	if err != nil {
		run.fail(nil, StageConfig, err)
		run.changes, run.edits, run.noEdit = nil, nil, true
		return
	}
	run.branch = b
}

// applyRendered is the edit of an environment with a write-branch
// template: apply, and fail when the changes found now (on the remote
// head Publish applies to) name another branch than the one the edit
// goes to.
func (e *envRun) applyRendered(ctx context.Context, dir string) (string, []string, error) {
	msg, files, err := e.apply(ctx, dir)
	if err != nil || len(files) == 0 {
		return msg, files, err
	}
	b, err := e.env.RenderBranch(e.branchChanges)
	if err == nil && b != e.branch {
		err = fmt.Errorf("the changes moved while pushing: they name branch %s now, not %s; the next cycle writes them", b, e.branch)
	}
	return msg, files, err
}
