package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Edit makes one commit. Apply edits the working tree rooted at dir and
// returns the commit message and the files it changed (relative to dir);
// no files means nothing to commit. Apply may run more than once: after a
// rejected push it runs again on the new remote head, so it must decide from
// what it reads there, not from what it saw before. Apply must list every
// file it changed or removed, also when it fails: only those are committed,
// and only those are put back when it fails. Paths must stay inside dir.
type Edit struct {
	Name  string
	Apply func(ctx context.Context, dir string) (message string, files []string, err error)
	// Empty commits Apply's message even when it changed no file (a record
	// that changes nothing, such as lifting a rollback); Apply still
	// returns "" for nothing to commit.
	Empty bool
	// Branch, when set, is a branch tagwatch owns (such as
	// tagwatch/production) that the edit goes to instead of the base
	// branch: its commit is made on the base head alone (not after the
	// other edits) and the branch is set to it, made again from the base
	// head at each Publish; when the edit changes nothing, the branch is
	// deleted. See branch.go for the ownership and lease rules.
	Branch string
	// DeferDelete keeps, when the edit finds nothing left to change, the
	// branch for a later DeleteBranch (BranchStale, its head in
	// EditResult.Commit): a forge may lose track of a pull request whose
	// branch is gone, so its pull request is closed first.
	DeferDelete bool
}

// EditResult is the outcome of one Edit in Publish.
type EditResult struct {
	Name    string
	Commit  string // "" when nothing was committed or Err is set
	Message string
	Files   []string
	// Err: Apply failed, and nothing of this edit was committed; or, for an
	// edit of an owned branch, the branch could not be written
	// (ErrBranchNotOwned, ErrLeaseLost, a refusal of the remote).
	Err error
	// Branch is Edit.Branch; BranchOutcome what happened to it (Branch…
	// constants; "" when Err is set or nothing was pushed). Commit is the
	// branch's head for BranchUnchanged too.
	Branch        string
	BranchOutcome string
}

// PublishResult is the outcome of Publish.
type PublishResult struct {
	Edits    []EditResult
	Pushed   bool // false when there was nothing to push
	Attempts int
	Head     string
	// Rejections are why the attempts before the last were refused (the
	// branch moved): one per retry.
	Rejections []error
}

// Publish applies edits in order on the remote head, one commit each, and
// pushes them all in one push. When the push is rejected because the remote
// moved, it syncs, re-applies the edits and tries again (bounded, jittered
// backoff). It never force-pushes the base branch. A failing Apply fails
// only its own edit.
//
// Edits with a Branch go to branches tagwatch owns: each is applied on the
// base head alone and its branch is updated in the same push (one
// receive-pack session) as the base branch. When the remote refuses the
// base branch for another reason than its having moved (a protected
// branch), the branch updates are sent again alone, so a protected base
// does not hold back its pull requests; the base's refusal is returned.
//
// Publish starts from the remote head of the last Open or Sync: call Sync
// before reading the values the edits decide from. When the returned error
// is not nil, EditResult.Commit names commits that were made locally but
// are not on the remote.
func (r *Repo) Publish(ctx context.Context, edits []Edit) (PublishResult, error) {
	var res PublishResult
	if r.readOnly {
		return res, fmt.Errorf("publish to %s: %w", r.dir, ErrReadOnly)
	}
	if err := r.checkBranches(edits); err != nil {
		return res, err
	}
	branches := branchNames(edits)
	if h := r.Head(); h != r.base.String() {
		// Commits of an earlier Publish that did not get out: start over.
		if err := r.resetTo(r.base); err != nil {
			return res, err
		}
	}
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			if err := r.waitBackoff(ctx, attempt-1); err != nil {
				return res, err
			}
			if err := r.Sync(ctx); err != nil {
				return res, err
			}
		}
		tips, err := r.branchTips(ctx, branches)
		if err != nil {
			return res, err
		}
		out, err := r.applyAll(ctx, edits, tips)
		res.Edits, res.Head = out.results, out.head.String()
		if err != nil {
			return res, err
		}
		if out.head == r.base && len(out.branches) == 0 {
			return res, nil // nothing changed: nothing to push
		}
		if err := ctx.Err(); err != nil {
			// A hard stop (a lost lease, an abandoned cycle): the commits
			// stay local and are dropped by the next Publish or Sync.
			for _, u := range out.branches {
				res.Edits[u.edit].BranchOutcome = ""
			}
			return res, fmt.Errorf("not pushing to %s: %w", Redact(r.ep.url), err)
		}
		pushed, err := r.pushUpdate(ctx, &out)
		res.Pushed = res.Pushed || pushed
		if err == nil {
			r.base = out.head
			return res, nil
		}
		if !errors.Is(err, ErrPushRejected) {
			return res, err
		}
		res.Rejections = append(res.Rejections, err)
		if attempt >= r.opts.maxAttempts {
			return res, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
	}
}

type appliedEdits struct {
	results  []EditResult
	head     plumbing.Hash // the last commit made on the base branch, or the base
	branches []*branchUpdate
	pack     []byte // a packfile of every object of the new commits
	objects  []plumbing.Hash
	ov       *overlay // holds objects
}

// applyAll runs every edit on the working tree at r.base and commits
// each one's files: first the edits of owned branches (tips are their
// heads), each on the base alone, then the others, one after the other.
// An edit that fails is undone and recorded; only a failure of the
// repository itself is returned as an error. Results are in the order of
// edits.
func (r *Repo) applyAll(ctx context.Context, edits []Edit, tips map[string]branchTip) (appliedEdits, error) {
	out := appliedEdits{head: r.base, results: make([]EditResult, len(edits))}
	ov := r.newOverlay()
	var objects []plumbing.Hash // reachable from the new commits, each once
	seen := map[plumbing.Hash]bool{}
	add := func(hs ...plumbing.Hash) {
		for _, h := range hs {
			if !seen[h] {
				seen[h] = true
				objects = append(objects, h)
			}
		}
	}
	c, err := r.repo.CommitObject(r.base)
	if err != nil {
		return out, fmt.Errorf("reading %s: %w", r.base, err)
	}
	tree := c.TreeHash
	changed := map[string]fileChange{}
	r.clean = false // until the index has caught up with the commits
	for i, e := range edits {
		if e.Branch == "" {
			continue
		}
		out.results[i] = EditResult{Name: e.Name}
		var written []plumbing.Hash
		u, err := r.applyBranchEdit(ctx, ov, tree, e, tips[e.Branch], &out.results[i], &written)
		if err != nil {
			return out, err
		}
		add(written...)
		if u != nil {
			u.edit = i
			out.branches = append(out.branches, u)
		}
	}
	for i, e := range edits {
		if e.Branch != "" {
			continue
		}
		res := &out.results[i]
		*res = EditResult{Name: e.Name}
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
		if err != nil {
			res.Err = err
			if rerr := r.revert(ov, tree, files); rerr != nil {
				return out, fmt.Errorf("undoing edit %s: %w", e.Name, rerr)
			}
			continue
		}
		empty := e.Empty && msg != ""
		if len(changes) == 0 && !empty {
			continue
		}
		newTree := tree
		if len(changes) > 0 {
			if newTree, err = editTree(ov, tree, changes, &written); err != nil {
				return out, fmt.Errorf("edit %s: writing tree: %w", e.Name, err)
			}
		}
		if newTree == tree && !empty {
			continue // the same bytes written back
		}
		commit, err := r.writeCommit(ov, newTree, out.head, msg)
		if err != nil {
			return out, fmt.Errorf("edit %s: writing commit: %w", e.Name, err)
		}
		add(append(written, commit)...)
		out.head, tree = commit, newTree
		res.Commit = commit.String()
		for _, ch := range changes {
			changed[ch.path] = ch
		}
	}
	out.objects, out.ov = objects, ov
	if len(objects) > 0 {
		// The new commits (of the base branch, or only of owned ones).
		if out.pack, err = ov.pack(objects, false); err != nil {
			return out, fmt.Errorf("packing commits: %w", err)
		}
		if err := r.storePack(out.pack); err != nil {
			return out, fmt.Errorf("storing commits: %w", err)
		}
	}
	if out.head == r.base {
		r.clean = true
		return out, nil
	}
	branch := plumbing.NewHashReference(plumbing.NewBranchReferenceName(r.branch), out.head)
	if err := r.repo.Storer.SetReference(branch); err != nil {
		return out, fmt.Errorf("updating branch %s: %w", r.branch, err)
	}
	if err := r.updateIndex(changed); err != nil {
		return out, fmt.Errorf("updating index: %w", err)
	}
	r.clean = true
	return out, nil
}

// storePack adds a packfile to the repository's objects.
func (r *Repo) storePack(pack []byte) error {
	pfw, ok := r.repo.Storer.(storer.PackfileWriter)
	if !ok {
		return errors.New("repository storage cannot take packfiles")
	}
	w, err := pfw.PackfileWriter()
	if err != nil {
		return err
	}
	if _, err := w.Write(pack); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// waitBackoff waits before retry n (1, 2, …): a random duration in [d/2, d)
// where d doubles from the base up to the maximum.
func (r *Repo) waitBackoff(ctx context.Context, n int) error {
	d := r.opts.backoffMax
	if n < 31 {
		if b := r.opts.backoffBase << (n - 1); b > 0 && b < d {
			d = b
		}
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
