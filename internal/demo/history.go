package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/tagwatch/tagwatch/internal/audit"
)

// writeHistory prints the audit trail of the repository at dir, oldest first.
func writeHistory(_ context.Context, w io.Writer, dir string) error {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return err
	}
	head, err := r.Head()
	if err != nil {
		return err
	}
	it, err := r.Log(&git.LogOptions{From: head.Hash()})
	if err != nil {
		return err
	}
	var entries []audit.Entry
	err = it.ForEach(func(c *object.Commit) error {
		for _, ch := range audit.Parse(c.Message) {
			entries = append(entries, audit.Entry{Commit: c.Hash.String(), Time: c.Committer.When, Change: ch})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(entries)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TIME\tENV\tIMAGE\tFROM -> TO\tDIGEST\tCOMMIT")
	for _, e := range entries {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s -> %s\t%s\t%s\n", e.Time.Local().Format("15:04:05"), e.Env, e.Image,
			orNone(e.From), e.To, short(e.Digest), short(e.Commit))
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
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
