package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tagwatch/tagwatch/gitrepo"
)

// LogSource walks a repository's commits, newest first; *gitrepo.Repo is one.
type LogSource interface {
	Log(ctx context.Context, fn func(gitrepo.CommitInfo) error) error
}

// Filter selects history entries; zero fields select everything.
type Filter struct {
	Env string
	// Image matches the image exactly or by its trailing path elements:
	// "app" and "team/app" both match "registry.example.com/team/app".
	Image string
	// Limit stops after this many entries (0: no limit).
	Limit int
}

// Match reports whether c passes the filter.
func (f Filter) Match(c Change) bool {
	if f.Env != "" && c.Env != f.Env {
		return false
	}
	if f.Image != "" && c.Image != f.Image && !strings.HasSuffix(c.Image, "/"+strings.TrimPrefix(f.Image, "/")) {
		return false
	}
	return true
}

// History reads every Tagwatch-Update trailer reachable from the source's
// head, newest commit first (a commit's trailers in the order written).
// Git is the record: nothing but the commits is read.
func History(ctx context.Context, src LogSource, f Filter) ([]Entry, error) {
	entries := []Entry{}
	err := src.Log(ctx, func(ci gitrepo.CommitInfo) error {
		for _, r := range ParseRecords(ci.Message) {
			if !f.Match(r.Change) {
				continue
			}
			entries = append(entries, Entry{Kind: r.Kind, Commit: ci.Hash, Time: ci.When, Author: ci.Author.Name, Signature: ci.Signature, Change: r.Change})
			if f.Limit > 0 && len(entries) >= f.Limit {
				return gitrepo.ErrStopLog
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	return entries, nil
}

// WriteTable writes entries as an aligned table: time (UTC), environment,
// image, from → to, short digest, short commit and its signature (the
// kind, or "-" for an unsigned commit); and the repository first when the
// entries come from more than one.
func WriteTable(w io.Writer, entries []Entry) error {
	many := false
	for _, e := range entries {
		many = many || e.Repository != entries[0].Repository
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if many {
		fmt.Fprint(tw, "REPOSITORY\t")
	}
	fmt.Fprintln(tw, "TIME\tENV\tIMAGE\tCHANGE\tDIGEST\tCOMMIT\tSIGNED")
	for _, e := range entries {
		if many {
			fmt.Fprintf(tw, "%s\t", e.Repository)
		}
		change := orNone(e.From) + " → " + e.To
		switch {
		case e.Kind == KindRollback:
			change += " (rollback by " + orDash(e.Author) + ")"
		case e.Kind == KindCleared:
			change = "rollback cleared"
		case e.PromotedFrom != "":
			change += " (from " + e.PromotedFrom + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.Time.UTC().Format(time.RFC3339), e.Env, e.Image, change,
			orDash(ShortDigest(e.Digest)), shortCommit(e.Commit), orDash(e.Signature))
	}
	return tw.Flush()
}

// JSONEntry is the -o json form of an Entry.
type JSONEntry struct {
	Kind       string    `json:"kind"` // update, rollback or cleared
	Repository string    `json:"repository,omitempty"`
	Commit     string    `json:"commit"`
	Time       time.Time `json:"time"`
	Env        string    `json:"env"`
	Image      string    `json:"image"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Digest     string    `json:"digest"`
	// PromotedFrom is the environment a gated change was promoted from.
	PromotedFrom string `json:"promotedFrom,omitempty"`
	// Signature is the kind of signature of the commit (ssh, openpgp,
	// x509, other); "" for an unsigned commit. It says a signature is
	// there, not that it verifies (git verify-commit, with the key).
	Signature string `json:"signature"`
}

// WriteJSON writes entries as one JSON array (an empty array for none).
func WriteJSON(w io.Writer, entries []Entry) error {
	out := make([]JSONEntry, len(entries))
	for i, e := range entries {
		out[i] = JSONEntry{Kind: cmp.Or(e.Kind, KindUpdate), Repository: e.Repository, Commit: e.Commit, Time: e.Time.UTC(), Env: e.Env, Image: e.Image, From: e.From, To: e.To, Digest: e.Digest, PromotedFrom: e.PromotedFrom, Signature: e.Signature}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func shortCommit(h string) string {
	if len(h) > 10 {
		return h[:10]
	}
	return h
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
