package demo

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
)

// writeHistory prints the audit trail of the remote repository at url as
// `tagwatch history --repo URL` does (a clone in cache), newest first, indented.
func writeHistory(ctx context.Context, w io.Writer, url, cache string) error {
	r, err := gitrepo.Open(ctx, url, gitrepo.WithDepth(0), gitrepo.WithCacheDir(cache))
	if err != nil {
		return err
	}
	defer r.Close()
	entries, err := audit.History(ctx, r, audit.Filter{})
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := audit.WriteTable(&b, entries); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if _, err := fmt.Fprintln(w, "  "+line); err != nil {
			return err
		}
	}
	return nil
}

// writeCommit prints the message and the diff of commit hash in dir,
// indented, as `git show` would.
func writeCommit(w io.Writer, dir, hash string) error {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return err
	}
	c, err := r.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return err
	}
	parent, err := c.Parent(0)
	if err != nil {
		return err
	}
	patch, err := parent.Patch(c)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("commit %s\nAuthor: %s <%s>\n\n%s\n\n%s", c.Hash, c.Author.Name, c.Author.Email,
		strings.TrimRight(c.Message, "\n"), patch.String())
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line != "" {
			line = "    " + line
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
