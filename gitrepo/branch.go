package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Branches tagwatch owns (Edit.Branch). Such a branch holds at most one
// commit on top of the base branch's head, the edit's, and is made again
// from the base head at every Publish; it is the only kind of branch
// Publish ever moves other than forward, and only under two conditions:
//
//   - Ownership: the branch's head is a commit tagwatch made (its committer
//     is the configured author). A branch whose head another writer made
//     (a person pushed a fix to it, or clicked "update branch" on the forge)
//     is left as it is and the edit fails with ErrBranchNotOwned: nothing
//     of another writer is overwritten silently.
//   - A lease: the update names the head seen (at the start of the attempt)
//     as the old value, so the remote refuses it when the branch moved since,
//     and the edit fails with ErrLeaseLost. It is not retried: the next
//     Publish looks again.
//
// Git is the record: ownership is read from the branch itself, so a new
// process (or a lost cache) decides as the last one would have.

// Branch outcomes of an EditResult.
const (
	BranchCreated   = "created"   // the branch did not exist; it holds the edit's commit now
	BranchUpdated   = "updated"   // the branch was made again from the base head
	BranchUnchanged = "unchanged" // it already held this change on the base head: not pushed
	BranchDeleted   = "deleted"   // the edit changed nothing: the branch was deleted
	BranchStale     = "stale"     // the edit changed nothing; the branch is kept for DeleteBranch (Edit.DeferDelete)
	BranchAbsent    = "absent"    // the edit changed nothing and there was no branch
)

var (
	// ErrBranchNotOwned: the head of a branch tagwatch owns was made by
	// another writer; it is not overwritten.
	ErrBranchNotOwned = errors.New("branch holds another writer's commit")
	// ErrLeaseLost: a branch tagwatch owns moved between the moment its head
	// was read and the update; the update was refused by the remote.
	ErrLeaseLost = errors.New("branch moved since it was read")
)

// branchTip is the head of an owned branch as an attempt saw it.
type branchTip struct {
	hash   plumbing.Hash // zero when the branch does not exist
	commit *object.Commit
}

// owned reports whether the branch's head is tagwatch's: its committer is
// the configured author. A branch that does not exist is ours to create.
func (r *Repo) owned(t branchTip) bool {
	if t.hash.IsZero() {
		return true
	}
	c := t.commit.Committer
	return c.Name == r.opts.author.Name && c.Email == r.opts.author.Email
}

// notOwned is the ErrBranchNotOwned of branch, naming who made its head.
func notOwned(branch string, t branchTip) error {
	c := t.commit
	return fmt.Errorf("%w: %s is at %.10s, committed by %s <%s> (%q), not by tagwatch: it is left as it is; "+
		"merge or close its pull request and delete the branch to let tagwatch write it again",
		ErrBranchNotOwned, branch, t.hash, c.Committer.Name, c.Committer.Email, firstLine(c.Message))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// branchTips reads the heads of branches on the remote (one listing) and
// fetches those whose commit is not here yet (one fetch), so that their
// committer and tree can be read.
func (r *Repo) branchTips(ctx context.Context, branches []string) (map[string]branchTip, error) {
	tips := make(map[string]branchTip, len(branches))
	if len(branches) == 0 {
		return tips, nil
	}
	want := map[plumbing.ReferenceName]string{}
	for _, b := range branches {
		want[plumbing.NewBranchReferenceName(b)] = b
		tips[b] = branchTip{}
	}
	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		return nil, err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return nil, r.ep.wrapError("listing branches of", err)
	}
	var specs []config.RefSpec
	missing := map[string]plumbing.Hash{}
	for _, ref := range refs {
		b, ok := want[ref.Name()]
		if !ok || ref.Type() != plumbing.HashReference {
			continue
		}
		if c, err := r.repo.CommitObject(ref.Hash()); err == nil {
			tips[b] = branchTip{hash: ref.Hash(), commit: c}
			continue
		}
		missing[b] = ref.Hash()
		specs = append(specs, config.RefSpec(fmt.Sprintf("+%s:%s", ref.Name(), plumbing.NewRemoteReferenceName(remoteName, b))))
	}
	if len(specs) == 0 {
		return tips, nil
	}
	fo := &git.FetchOptions{RemoteName: remoteName, RefSpecs: specs, Auth: r.auth, Tags: git.NoTags}
	if r.isShallow() {
		fo.Depth = 1 // the head alone: its committer, tree and parent are all that is read
	}
	if err := r.repo.FetchContext(ctx, fo); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, r.ep.wrapError("fetching branches of", err)
	}
	for b, h := range missing {
		c, err := r.repo.CommitObject(h)
		if err != nil {
			return nil, fmt.Errorf("fetching branch %s of %s: %w", b, r.ep.url, err)
		}
		tips[b] = branchTip{hash: h, commit: c}
	}
	return tips, nil
}

// branchUpdate is the ref update an owned branch's edit asks for.
type branchUpdate struct {
	edit   int // index in the results
	branch string
	old    plumbing.Hash // the lease: the head seen (zero: the branch must not exist)
	new    plumbing.Hash // zero: delete
}

// applyBranchEdit runs the edit of an owned branch on the working tree at
// the base head, commits its files on the base head alone and puts the
// files back, so the next edit sees the base as it is. It returns the
// update to push (nil for none) and records the outcome in res.
func (r *Repo) applyBranchEdit(ctx context.Context, ov *overlay, baseTree plumbing.Hash, e Edit, tip branchTip, res *EditResult, objects *[]plumbing.Hash) (*branchUpdate, error) {
	res.Branch = e.Branch
	if !r.owned(tip) {
		res.Err = notOwned(e.Branch, tip)
		return nil, nil
	}
	msg, files, err := e.Apply(ctx, r.dir)
	res.Message, res.Files = msg, files
	if err == nil && len(files) > 0 && msg == "" {
		err = errors.New("empty commit message")
	}
	var changes []fileChange
	var written []plumbing.Hash
	if err == nil && len(files) > 0 {
		changes, written, err = r.stage(ov, files)
	}
	tree := baseTree
	if err == nil && len(changes) > 0 {
		tree, err = editTree(ov, baseTree, changes, &written)
	}
	if rerr := r.revert(ov, baseTree, files); rerr != nil {
		return nil, fmt.Errorf("undoing edit %s on the working tree: %w", e.Name, rerr)
	}
	if err != nil {
		res.Err = err // the branch is left as it is
		return nil, nil
	}
	if tree == baseTree && !(e.Empty && msg != "") {
		// Nothing left to change: the branch goes.
		if tip.hash.IsZero() {
			res.BranchOutcome = BranchAbsent
			return nil, nil
		}
		if e.DeferDelete {
			res.BranchOutcome, res.Commit = BranchStale, tip.hash.String()
			return nil, nil
		}
		res.BranchOutcome = BranchDeleted
		return &branchUpdate{branch: e.Branch, old: tip.hash}, nil
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	if c := tip.commit; c != nil && c.TreeHash == tree && c.Message == msg && len(c.ParentHashes) == 1 && c.ParentHashes[0] == r.base {
		res.BranchOutcome, res.Commit = BranchUnchanged, tip.hash.String()
		return nil, nil
	}
	commit, err := r.writeCommit(ov, tree, r.base, msg)
	if err != nil {
		return nil, fmt.Errorf("edit %s: writing commit: %w", e.Name, err)
	}
	*objects = append(*objects, append(written, commit)...)
	res.Commit = commit.String()
	res.BranchOutcome = BranchUpdated
	if tip.hash.IsZero() {
		res.BranchOutcome = BranchCreated
	}
	return &branchUpdate{branch: e.Branch, old: tip.hash, new: commit}, nil
}

// branchNames are the owned branches of edits, each once.
func branchNames(edits []Edit) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range edits {
		if e.Branch != "" && !seen[e.Branch] {
			seen[e.Branch] = true
			out = append(out, e.Branch)
		}
	}
	return out
}

// checkBranches validates the owned branches of edits: valid names, none
// twice, none the base branch.
func (r *Repo) checkBranches(edits []Edit) error {
	seen := map[string]bool{}
	for _, e := range edits {
		if e.Branch == "" {
			continue
		}
		if err := plumbing.NewBranchReferenceName(e.Branch).Validate(); err != nil || strings.HasPrefix(e.Branch, "refs/") {
			return fmt.Errorf("edit %s: invalid branch name %q", e.Name, e.Branch)
		}
		if e.Branch == r.branch {
			return fmt.Errorf("edit %s: branch %s is the base branch, which is never rewritten", e.Name, e.Branch)
		}
		if seen[e.Branch] {
			return fmt.Errorf("edit %s: branch %s is written by two edits", e.Name, e.Branch)
		}
		seen[e.Branch] = true
	}
	return nil
}

// DeleteBranch deletes a branch tagwatch owns whose head Publish reported
// (BranchStale): with a lease on that head, so a branch another writer
// moved since is kept (ErrLeaseLost). A branch already gone is not an
// error.
func (r *Repo) DeleteBranch(ctx context.Context, branch, head string) error {
	if r.readOnly {
		return fmt.Errorf("delete branch of %s: %w", r.dir, ErrReadOnly)
	}
	if branch == r.branch || branch == "" {
		return fmt.Errorf("branch %q is not one tagwatch owns", branch)
	}
	out := &appliedEdits{results: make([]EditResult, 1), head: r.base}
	u := &branchUpdate{branch: branch, old: plumbing.NewHash(head)}
	_, _, _, err := r.pushRefs(ctx, out, false, []*branchUpdate{u})
	if err != nil {
		return err
	}
	return out.results[0].Err
}
