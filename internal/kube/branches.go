package kube

import (
	"fmt"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
)

// checkWriteBranches leaves out the Applications' environments whose
// write branch (plan.Environment.WriteBranch: git-branch's write branch,
// or tagwatch/<environment> in pull-request mode) gitrepo's Publish would
// refuse for the whole repository, or which would rewrite a branch others
// commit to:
//   - a name that is not a valid branch, or the repository's own branch
//     (plan.Check's rules for one environment);
//   - the base branch of another plan of the same repository;
//   - a branch another environment of the repository already writes.
//
// The config's environments come first, then the Applications in the
// order of states (the one created first keeps the branch). Each one left
// out is a problem of its Application, naming the annotation the branch
// comes from; the others of the repository go on.
//
// Not known here: which branch a plan with Branch "" (the remote's
// default) writes. A write branch that turns out to be it is still refused
// by Publish, when the repository is opened. Nor the branch a write-branch
// template renders (git-branch base:<template>, WriteBranch ""): the loop
// checks each render against the same rules at the cycle, and fails that
// environment alone (internal/reconcile's branchClaims).
func checkWriteBranches(plans []*plan.Plan, states []*appState, envOf map[*plan.Environment]*appState, problems map[string][]string) {
	type place struct {
		p *plan.Plan
		e *plan.Environment
	}
	var order []place
	planOf := map[*plan.Environment]*plan.Plan{}
	bases := map[string]string{} // repository and branch → who commits to it
	for _, p := range plans {
		if k := repoSpelling(p) + "\x00" + p.Repo.Branch; p.Repo.Branch != "" && bases[k] == "" {
			bases[k] = "a branch other environments commit to"
			if len(p.Envs) > 0 {
				bases[k] = "the branch " + p.Envs[0].Origin + " commits to"
			}
		}
		for _, e := range p.Envs {
			planOf[e] = p
			if _, fromApp := envOf[e]; !fromApp {
				order = append(order, place{p, e})
			}
		}
	}
	for _, st := range states {
		if p := planOf[st.target.Env]; p != nil {
			order = append(order, place{p, st.target.Env})
		}
	}
	owner := map[string]string{} // repository and branch → the environment writing it
	drop := map[*plan.Environment]bool{}
	for _, pl := range order {
		b := pl.e.WriteBranch()
		if b == "" {
			continue
		}
		k := repoSpelling(pl.p) + "\x00" + b
		if st, fromApp := envOf[pl.e]; fromApp {
			if why := writeBranchProblem(pl.p, pl.e, bases[k], owner[k]); why != "" {
				problems[st.app.Key()] = append(problems[st.app.Key()], why)
				drop[pl.e] = true
				continue
			}
		}
		if owner[k] == "" {
			owner[k] = pl.e.Origin
		}
	}
	if len(drop) == 0 {
		return
	}
	for _, p := range plans {
		kept := p.Envs[:0:0]
		for _, e := range p.Envs {
			if !drop[e] {
				kept = append(kept, e)
			}
		}
		p.Envs = kept
	}
}

// repoSpelling identifies p's repository for checkWriteBranches: by
// config.SpellingKey, which merges every spelling of one repository that
// plans' keys (config.RepoKey) merge, and more (a home-relative ssh path
// and the absolute one). Over-matching only refuses a write branch that
// might be another plan's base: the safe side of this guard; Argo CD's
// Secret matching (normalizeGitURL) would miss https://host:443/org/app
// against https://host/org/app.git.
func repoSpelling(p *plan.Plan) string { return config.SpellingKey(p.Repo.URL) }

// writeBranchProblem says why the Application's environment e of p cannot
// write its branch: plan.Check's verdict on e alone in p (a valid name,
// not p's branch), then base (what commits to the branch as its own; ""
// for nothing), then owner (the environment writing it already; "" for
// none). "" when it can.
func writeBranchProblem(p *plan.Plan, e *plan.Environment, base, owner string) string {
	key, fix := OwnPrefix+"mode", "set "+OwnPrefix+"environment to another name"
	if e.Mode == plan.ModeBranch {
		key, fix = ImageUpdaterPrefix+"git-branch", "give this Application another write branch"
	}
	alone := *e
	alone.Gate, alone.Origin = nil, key // the gate's from is checked elsewhere
	if err := plan.Check([]*plan.Plan{{Repo: p.Repo, Envs: []*plan.Environment{&alone}}}); err != nil {
		return err.Error()
	}
	b := e.WriteBranch()
	switch {
	case base != "":
		return fmt.Sprintf("%s: the write branch %s of %s is %s, which tagwatch never rewrites; %s", key, b, p.Repo.Display(), base, fix)
	case owner != "":
		return fmt.Sprintf("%s: the write branch %s of %s is already written by %s; %s", key, b, p.Repo.Display(), owner, fix)
	}
	return ""
}
