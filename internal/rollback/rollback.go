// Package rollback reads rollbacks out of an environment's history
// (DESIGN §8b): a pure function of the audit records Git holds and the
// value the environment runs now, no I/O.
//
// A digest is rolled back in an environment when
//   - a Tagwatch-Rollback trailer says so (`tagwatch rollback`), or
//   - a commit that is not tagwatch's moved the value below what tagwatch
//     had written (a person reverting, `git revert` of tagwatch's commit):
//     the value that followed tagwatch's change ranks below the value it
//     wrote, under the environment's policy. The value that followed is
//     the previous value (from=) of tagwatch's next change, or the value
//     in Git now after its latest one.
//
// A Tagwatch-Rollback-Cleared trailer lifts every rollback of its digest
// older than it. A commit that moves the value up, or edits another field
// or file, is not a rollback.
package rollback

import "fmt"

// Event is one record of an environment's image, newest first.
type Event struct {
	Kind   string // Update, Rollback, Cleared
	From   string // Update: the previous value; Rollback: the value rolled back
	To     string // Update: the value written; Rollback: the value restored
	Digest string // Update: the digest written; Rollback, Cleared: the digest concerned
	Commit string
	Author string
}

// Kinds of Event (those of the audit package).
const (
	Update   = "update"
	Rollback = "rollback"
	Cleared  = "cleared"
)

// Found is a digest the environment must not take again.
type Found struct {
	Digest string
	Tag    string // the value that was rolled back
	// Commit and Author made the rollback: the Tagwatch-Rollback commit, or
	// the foreign commit the loop found (empty when it could not tell).
	Commit, Author string
	// After is tagwatch's commit that wrote the value rolled back.
	After string
	// Env, set by the caller, is the environment up the promotion chain
	// where it was rolled back ("" for the environment itself).
	Env string
}

// Reason says in words why the digest is held.
func (f Found) Reason() string {
	where := ""
	if f.Env != "" {
		where = " in " + f.Env
	}
	switch {
	case f.Commit != "":
		return fmt.Sprintf("rolled back%s in %.10s by %s (%s, %s)", where, f.Commit, orSomeone(f.Author), f.Tag, short(f.Digest))
	default:
		return fmt.Sprintf("rolled back%s after %.10s (%s, %s)", where, f.After, f.Tag, short(f.Digest))
	}
}

// Detect returns the rolled-back digests of one environment's image, from
// its events newest first and the value in Git now ("" when unknown: only
// Tagwatch-Rollback trailers count then). above(a, b) reports
// whether value a ranks above value b under the environment's policy. gap
// names the commit that rolled back tagwatch's change to tag made in after
// (the foreign commit between it and what followed); it may return "", "".
func Detect(events []Event, current string, above func(a, b string) bool, gap func(after, tag string) (commit, author string)) map[string]Found {
	out := map[string]Found{}
	cleared := map[string]bool{}
	next := current // the value that followed the event being read
	for _, e := range events {
		switch e.Kind {
		case Cleared:
			if _, found := out[e.Digest]; !found {
				cleared[e.Digest] = true
			}
		case Rollback:
			if _, found := out[e.Digest]; !found && !cleared[e.Digest] && e.Digest != "" {
				out[e.Digest] = Found{Digest: e.Digest, Tag: e.From, Commit: e.Commit, Author: e.Author}
			}
			next = e.From // tagwatch's rollback commit itself moved From -> To
		case Update:
			if e.Digest != "" && next != "" && next != e.To && above(e.To, next) && !cleared[e.Digest] {
				if _, found := out[e.Digest]; !found {
					f := Found{Digest: e.Digest, Tag: e.To, After: e.Commit}
					if gap != nil {
						f.Commit, f.Author = gap(e.Commit, e.To)
					}
					out[e.Digest] = f
				}
			}
			next = e.From
		}
	}
	return out
}

func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}
