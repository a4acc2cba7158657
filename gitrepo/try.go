package gitrepo

import (
	"context"
	"errors"
	"fmt"
)

// Try runs apply on the working tree at the base head, as Publish runs an
// Edit's Apply, then puts back every file apply lists: nothing is
// committed or pushed and the tree is left as it was. It tells a caller
// what an edit would change before it publishes it (a branch named after
// its changes), for the cost of the files the edit writes rather than a
// copy of the tree. apply lists its files as Edit.Apply does, also when it
// fails. The error is apply's, or a failure to put the files back, after
// which the working copy is reset to the base.
func (r *Repo) Try(ctx context.Context, apply func(ctx context.Context, dir string) (message string, files []string, err error)) error {
	if r.readOnly {
		return fmt.Errorf("try an edit in %s: %w", r.dir, ErrReadOnly)
	}
	if h := r.Head(); h != r.base.String() {
		// Commits of an earlier Publish that did not get out: start over.
		if err := r.resetTo(r.base); err != nil {
			return err
		}
	}
	c, err := r.repo.CommitObject(r.base)
	if err != nil {
		return fmt.Errorf("reading %s: %w", r.base, err)
	}
	_, files, applyErr := apply(ctx, r.dir)
	if err := r.revert(r.newOverlay(), c.TreeHash, files); err != nil {
		if rerr := r.resetTo(r.base); rerr != nil {
			return errors.Join(applyErr, fmt.Errorf("putting back the files of a trial edit: %w", err), rerr)
		}
		return errors.Join(applyErr, fmt.Errorf("putting back the files of a trial edit: %w", err))
	}
	return applyErr
}
