package reconcile

import (
	"fmt"
	"io"
	"strings"
)

// Report is the outcome of one cycle (DESIGN.md §3, `run --once -o json`).
// Slices are never nil, so the JSON always holds every key.
type Report struct {
	Changes []Change `json:"changes"`
	Held    []Change `json:"held"`
	Errors  []Error  `json:"errors"`
	Commits []string `json:"commits"`
}

// Change is one image moved (or, in Held, left alone) in one environment.
// Files are the files the change writes, relative to the repository root;
// File is the first of them.
type Change struct {
	Repository string   `json:"repository"` // the git URL, without credentials
	Env        string   `json:"env"`
	Image      string   `json:"image"`
	File       string   `json:"file"`
	Files      []string `json:"files"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	Digest     string   `json:"digest"`
	// Reason says, in Held, why the image stays (no downgrade, a closed
	// promotion gate, a rollback); in Changes, why a promotion gate opened.
	Reason string `json:"reason,omitempty"`
	// Branch is, in pull-request mode, the branch the change was committed
	// to (tagwatch/<env>) instead of the repository's branch; PullRequest
	// the pull request that proposes it. Pending: the branch held this very
	// change already (nothing was pushed this cycle); the pull request
	// waits for a review.
	Branch      string `json:"branch,omitempty"`
	PullRequest string `json:"pullRequest,omitempty"`
	Pending     bool   `json:"pending,omitempty"`
	// Commit is the commit that made the change ("" in Held and in a dry
	// run). Not part of the JSON report, whose commits list those pushed
	// to the repositories' branches (not those of pull-request branches).
	Commit string `json:"-"`
	// Edits are the files of Files with the fields set in each and their
	// diffs, for the text plan (`run --diff`); not part of the JSON report.
	Edits []FileEdit `json:"-"`
}

// FileEdit is one file a change writes: the fields it sets there
// ("images[name=team/app].newTag", "image.tag", "line 12 (app:tag)") and
// the unified diff of the file.
type FileEdit struct {
	File   string
	Fields []string
	Diff   string
}

// Error is one failure; Env and Image are empty when it concerns a whole
// repository, Image when it concerns a whole environment.
type Error struct {
	Repository string `json:"repository"` // the git URL, without credentials
	Env        string `json:"env"`
	Image      string `json:"image"`
	Error      string `json:"error"`
	// Err is the cause, for errors.Is/As (registry.ErrUnauthorized,
	// gitrepo.ErrPushRejected, …); Stage is where it happened (Stage…).
	Err   error  `json:"-"`
	Stage string `json:"-"`
}

// Stages of an Error, as tagwatch_errors_total labels them.
const (
	StageConfig    = "config"
	StageRegistry  = "registry"
	StagePolicy    = "policy"
	StageWriteback = "writeback"
	StageGit       = "git"
)

func newReport() Report {
	return Report{Changes: []Change{}, Held: []Change{}, Errors: []Error{}, Commits: []string{}}
}

// merge appends o's entries to r.
func (r *Report) merge(o Report) {
	r.Changes = append(r.Changes, o.Changes...)
	r.Held = append(r.Held, o.Held...)
	r.Errors = append(r.Errors, o.Errors...)
	r.Commits = append(r.Commits, o.Commits...)
}

// Failed reports whether anything failed (exit status 1).
func (r Report) Failed() bool { return len(r.Errors) > 0 }

// WriteText writes a short summary a person reads.
func (r Report) WriteText(w io.Writer, dryRun bool) error {
	return r.WriteTextWith(w, TextOptions{DryRun: dryRun})
}

// TextOptions shape the text report.
type TextOptions struct {
	DryRun bool // "would update" rather than "updated"
	Diff   bool // a unified diff under each file changed
}

// WriteTextWith writes the report a person reads: each change with every
// file and field it writes (and with o.Diff the diff of each file), the
// held images, the errors and the commits.
func (r Report) WriteTextWith(w io.Writer, o TextOptions) error {
	verb := "updated"
	if o.DryRun {
		verb = "would update"
	}
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	for _, c := range r.Changes {
		p("%s %s: %s %s -> %s%s%s\n", verb, c.Env, c.Image, orNone(c.From), c.To, digestSuffix(c.Digest), where(c))
		if len(c.Edits) == 0 {
			for _, f := range c.Files {
				p("  %s\n", f)
			}
		}
		for _, e := range c.Edits {
			p("  %s: %s\n", e.File, strings.Join(e.Fields, ", "))
			if o.Diff && e.Diff != "" {
				p("%s", indent(e.Diff, "    "))
			}
		}
	}
	for _, c := range r.Held {
		p("held %s: %s stays at %s (best candidate %s): %s\n", c.Env, c.Image, orNone(c.From), c.To, c.Reason)
	}
	for _, e := range r.Errors {
		switch {
		case e.Env == "" && e.Image == "":
			p("error: %s\n", e.Error)
		case e.Image == "":
			p("error %s: %s\n", e.Env, e.Error)
		default:
			p("error %s: %s: %s\n", e.Env, e.Image, e.Error)
		}
	}
	for _, c := range r.Commits {
		p("commit %s\n", c)
	}
	if len(r.Changes) == 0 && len(r.Held) == 0 && len(r.Errors) == 0 {
		p("everything is up to date\n")
	}
	return err
}

// where says, for a change of pull-request mode, where it waits.
func where(c Change) string {
	switch {
	case c.PullRequest != "" && c.Pending:
		return " (waiting in " + c.PullRequest + ")"
	case c.PullRequest != "":
		return " (proposed in " + c.PullRequest + ")"
	case c.Branch != "":
		return " (on branch " + c.Branch + ")"
	}
	return ""
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func digestSuffix(d string) string {
	if d == "" {
		return ""
	}
	return "@" + d
}
