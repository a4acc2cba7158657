package gitrepo

import (
	"context"
	"errors"
	"fmt"

	git "github.com/go-git/go-git/v5"
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
		if r.readOnly || before > 0 && len(seen) == before {
			return false, nil // nothing more to fetch
		}
		depth := min(max, nextDepth(r.depth, len(seen)))
		if err := r.deepen(ctx, depth); err != nil {
			return false, err
		}
	}
}

// nextDepth is the depth of the next deepening of a copy depth deep whose
// walk saw seen commits.
func nextDepth(depth, seen int) int {
	return max(firstDeepen, 2*depth, 2*seen)
}

// walkSeen walks from the base, skipping commits in seen and adding the
// others, until max are seen; stopped reports that fn stopped the walk.
func (r *Repo) walkSeen(ctx context.Context, seen map[plumbing.Hash]bool, max int, fn func(CommitInfo) error) (stopped bool, err error) {
	it, err := r.repo.Log(&git.LogOptions{From: r.base, Order: git.LogOrderCommitterTime})
	if err != nil {
		return false, fmt.Errorf("walking history of %s: %w", r.dir, err)
	}
	defer it.Close()
	err = it.ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen[c.Hash] {
			return nil
		}
		if len(seen) >= max {
			return errMaxSeen
		}
		seen[c.Hash] = true
		return fn(CommitInfo{
			Hash:    c.Hash.String(),
			Message: c.Message,
			Author:  Author{Name: c.Author.Name, Email: c.Author.Email},
			When:    c.Committer.When,
		})
	})
	switch {
	case err == nil, errors.Is(err, errMaxSeen):
		return false, nil
	case errors.Is(err, ErrStopLog):
		return true, nil
	case errors.Is(err, plumbing.ErrObjectNotFound) && r.isShallow():
		return false, nil // the parents of the shallow boundary were never fetched
	}
	return false, err
}

// errMaxSeen ends a walk at its bound.
var errMaxSeen = errors.New("walk bound reached")

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

// shallowDepth counts the commits from head to the shallow boundary, for a
// cached copy opened by a new process (0 when the copy is complete).
func (r *Repo) shallowDepth() int {
	if !r.isShallow() {
		return 0
	}
	head, err := r.repo.Head()
	if err != nil {
		return 1
	}
	it, err := r.repo.Log(&git.LogOptions{From: head.Hash(), Order: git.LogOrderCommitterTime})
	if err != nil {
		return 1
	}
	defer it.Close()
	n := 0
	_ = it.ForEach(func(*object.Commit) error { n++; return nil })
	return max(1, n)
}
