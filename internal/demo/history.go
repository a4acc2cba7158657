package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/go-git/go-git/v5"
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
