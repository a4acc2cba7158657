package gitrepo

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Walk bounds: a shallow copy is deepened in steps, from firstDeepen
// commits, doubling, up to the max Walk is given.
const (
	firstDeepen = 64
	// DefaultMaxHistory is the history Walk reads when given no bound.
	DefaultMaxHistory = 10000
)

// Walk calls fn for each commit reachable from the head of the last Open or
// Sync, newest (committer time) first, each once, until fn returns
// ErrStopLog or max commits were read (max <= 0: DefaultMaxHistory). When
// a shallow copy ends before that, Walk deepens it (a fetch of more history
// from the remote, in doubling steps) and walks on; the copy then stays
// that deep at later Syncs, so the next cycles fetch only new commits. It
// reports whether the history it walked was complete: fn stopped it, or it
// reached the first commit of the repository.
func (r *Repo) Walk(ctx context.Context, max int, fn func(CommitInfo) error) (complete bool, err error) {
	if max <= 0 {
		max = DefaultMaxHistory
	}
	seen := map[plumbing.Hash]bool{}
	deepened := false
	for {
		before := len(seen)
		stopped, err := r.walkSeen(ctx, seen, max, fn)
		if err != nil || stopped {
			return stopped, err
		}
		if len(seen) >= max {
			return false, nil // bounded: history goes on
		}
		if !r.isShallow() {
			return true, nil // the first commit was reached
		}
		if r.readOnly || deepened && len(seen) == before {
			return false, nil // the last deepening brought nothing: the remote has no more
		}
		depth := min(max, nextDepth(r.depth, len(seen)))
		if err := r.deepen(ctx, depth); err != nil {
			return false, err
		}
		deepened = true
	}
}

// nextDepth is the depth of the next deepening of a copy depth deep whose
// walk saw seen commits.
func nextDepth(depth, seen int) int {
	return max(firstDeepen, 2*depth, 2*seen)
}

// walkSeen walks from the base, newest committer time first, skipping
// commits in seen and adding the others, until max are seen; stopped
// reports that fn stopped the walk. A parent that is not here (beyond the
// boundary of a shallow copy) ends its line: go-git's own time-ordered
// iterator fails on it before yielding the boundary commit itself.
func (r *Repo) walkSeen(ctx context.Context, seen map[plumbing.Hash]bool, max int, fn func(CommitInfo) error) (stopped bool, err error) {
	return r.walkFrom(ctx, r.base, seen, max, fn)
}

// walkFrom is walkSeen from start.
func (r *Repo) walkFrom(ctx context.Context, start plumbing.Hash, seen map[plumbing.Hash]bool, max int, fn func(CommitInfo) error) (stopped bool, err error) {
	base, err := r.repo.CommitObject(start)
	if err != nil {
		return false, fmt.Errorf("walking history of %s: %w", r.dir, err)
	}
	queued := map[plumbing.Hash]bool{base.Hash: true}
	q := &commitQueue{base}
	for q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		c := heap.Pop(q).(*object.Commit)
		for _, p := range c.ParentHashes {
			if queued[p] {
				continue
			}
			queued[p] = true
			pc, err := r.repo.CommitObject(p)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				continue // beyond the shallow boundary
			}
			if err != nil {
				return false, fmt.Errorf("walking history of %s: %w", r.dir, err)
			}
			heap.Push(q, pc)
		}
		if seen[c.Hash] {
			continue
		}
		if len(seen) >= max {
			return false, nil
		}
		seen[c.Hash] = true
		err := fn(commitInfo(c, c.Committer.When))
		if errors.Is(err, ErrStopLog) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// commitQueue is a max-heap of commits by committer time (then hash, so
// that the order does not depend on the heap's).
type commitQueue []*object.Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	a, b := q[i].Committer.When, q[j].Committer.When
	if !a.Equal(b) {
		return a.After(b)
	}
	return q[i].Hash.String() > q[j].Hash.String()
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// deepen fetches history of the branch depth commits deep from its remote
// head, and keeps that depth for later fetches.
func (r *Repo) deepen(ctx context.Context, depth int) error {
	r.depth = depth
	if _, err := r.fetchBranch(ctx); err != nil {
		return fmt.Errorf("deepening the history of %s to %d commits: %w", Redact(r.ep.url), depth, err)
	}
	return r.pruneShallow()
}

// pruneShallow drops from the shallow list the commits whose parents are
// all here now. go-git's fetch adds the new boundary of a deeper fetch to
// the list but ignores the server's "unshallow" of the old one, which would
// stop every walk where it stopped before.
func (r *Repo) pruneShallow() error {
	shallows, err := r.repo.Storer.Shallow()
	if err != nil || len(shallows) == 0 {
		return err
	}
	kept := shallows[:0:0]
	for _, h := range shallows {
		c, err := r.repo.CommitObject(h)
		if err != nil {
			kept = append(kept, h)
			continue
		}
		for _, p := range c.ParentHashes {
			if _, err := r.repo.Storer.EncodedObject(plumbing.CommitObject, p); err != nil {
				kept = append(kept, h)
				break
			}
		}
	}
	if len(kept) == len(shallows) {
		return nil
	}
	return r.repo.Storer.SetShallow(kept)
}

// shallowDepth counts the commits from the base to the shallow boundary,
// for a cached copy opened by a new process (0 when the copy is complete).
func (r *Repo) shallowDepth() int {
	if !r.isShallow() {
		return 0
	}
	start := r.base
	if start.IsZero() { // opening: the working copy's HEAD
		head, err := r.repo.Head()
		if err != nil {
			return 1
		}
		start = head.Hash()
	}
	seen := map[plumbing.Hash]bool{}
	if _, err := r.walkFrom(context.Background(), start, seen, math.MaxInt, func(CommitInfo) error { return nil }); err != nil {
		return 1
	}
	return max(1, len(seen))
}

// ChangedFiles lists the paths commit hash changed against its first
// parent (all of its files for a root commit). It fails for a commit at
// the boundary of a shallow copy, whose parent is not here.
func (r *Repo) ChangedFiles(hash string) ([]string, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", hash, err)
	}
	to, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", hash, err)
	}
	var from *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return nil, fmt.Errorf("parent of %s: %w", hash, err)
		}
		if from, err = p.Tree(); err != nil {
			return nil, fmt.Errorf("parent of %s: %w", hash, err)
		}
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", hash, err)
	}
	out := make([]string, 0, len(changes))
	for _, ch := range changes {
		name := ch.To.Name
		if name == "" {
			name = ch.From.Name
		}
		out = append(out, name)
	}
	return out, nil
}

// RemovedLines lists the lines of file (a path in the repository) that
// commit hash removed against its first parent: those of the parent's
// version it no longer has, as many times as they went (a line moved
// within the file is not removed). A file the commit did not have before
// has none.
func (r *Repo) RemovedLines(hash, file string) ([]string, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", hash, err)
	}
	if c.NumParents() == 0 {
		return nil, nil
	}
	p, err := c.Parent(0)
	if err != nil {
		return nil, fmt.Errorf("parent of %s: %w", hash, err)
	}
	before, err := fileLines(p, file)
	if err != nil || before == nil {
		return nil, err
	}
	after, err := fileLines(c, file)
	if err != nil {
		return nil, err
	}
	left := map[string]int{}
	for _, l := range after {
		left[l]++
	}
	var out []string
	for _, l := range before {
		if left[l] > 0 {
			left[l]--
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// fileLines reads file's lines in commit c; nil when c has no such file.
func fileLines(c *object.Commit, file string) ([]string, error) {
	f, err := c.File(file)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", file, c.Hash, err)
	}
	text, err := f.Contents()
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", file, c.Hash, err)
	}
	return strings.Split(text, "\n"), nil
}

// Contains reports whether commit is revision or one of its ancestors,
// in the history at hand (Walk deepens a shallow copy; a commit beyond it
// is not found). An unknown revision contains nothing.
func (r *Repo) Contains(revision, commit string) (bool, error) {
	rev, err := r.repo.CommitObject(plumbing.NewHash(revision))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("commit %s: %w", revision, err)
	}
	if rev.Hash.String() == commit {
		return true, nil
	}
	c, err := r.repo.CommitObject(plumbing.NewHash(commit))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("commit %s: %w", commit, err)
	}
	ok, err := c.IsAncestor(rev)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil // the walk reached the shallow boundary
	}
	return ok, err
}
