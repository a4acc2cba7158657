// Package gitseed makes a bare repository whose first commit holds the files
// of a directory, with go-git alone: no git CLI is needed, so the demo runs
// with an empty PATH. The demo and the cycle benchmark seed their "Git host"
// with it; tests that have the git CLI use internal/testgit.
package gitseed

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Branch is the branch Init creates and points HEAD at.
const Branch = "main"

// Init creates a bare repository at bare holding one commit, on Branch, of
// every file under dir (dir is used as the work tree and left as it is). The
// commit is made by author, as author and committer, now if author.When is
// zero.
func Init(bare, dir, message string, author object.Signature) error {
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(Branch)},
	}); err != nil {
		return fmt.Errorf("creating %s: %w", bare, err)
	}
	st := filesystem.NewStorage(osfs.New(bare), cache.NewObjectLRUDefault())
	r, err := git.Open(st, osfs.New(dir))
	if err != nil {
		return fmt.Errorf("opening %s with work tree %s: %w", bare, dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return fmt.Errorf("adding the files of %s: %w", dir, err)
	}
	if author.When.IsZero() {
		author.When = time.Now()
	}
	if _, err := wt.Commit(message, &git.CommitOptions{Author: &author, Committer: &author}); err != nil {
		return fmt.Errorf("committing to %s: %w", bare, err)
	}
	// The borrowed work tree's index is not part of a bare repository.
	if err := os.Remove(filepath.Join(bare, "index")); err != nil {
		return fmt.Errorf("removing the index of %s: %w", bare, err)
	}
	return nil
}
