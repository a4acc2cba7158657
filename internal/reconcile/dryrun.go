package reconcile

import (
	"context"
	"fmt"
)

// dryRun applies every environment to the cached working copy as Publish
// would, and puts each one's files back (Repo.Try), so the working copy
// stays exactly as the remote has it: an environment writing a branch of
// its own on the base head alone, the others one after another on the
// same tree. What the report shows of each (changes, fields, diffs) is
// made by apply as it writes.
func dryRun(ctx context.Context, repo Repo, runs []*envRun) error {
	var base []*envRun
	for _, run := range runs {
		if !run.env.OwnsBranch() {
			base = append(base, run)
			continue
		}
		if err := try(ctx, repo, run); err != nil {
			return err
		}
	}
	if len(base) == 0 {
		return nil
	}
	return try(ctx, repo, base...)
}

// try applies runs one after another in one Repo.Try.
func try(ctx context.Context, repo Repo, runs ...*envRun) error {
	err := repo.Try(ctx, func(ctx context.Context, dir string) (string, []string, error) {
		var all []string
		for _, run := range runs {
			_, files, err := run.apply(ctx, dir)
			all = append(all, files...)
			if err != nil {
				run.fail(nil, StageWriteback, err)
			}
		}
		return "", all, nil
	})
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	return nil
}
