// Package audit writes and reads tagwatch's audit commits (DESIGN.md §4):
// the subject, a body in words, and one Tagwatch-Update trailer per change.
package audit

import "time"

// Change is one image moved in one environment.
type Change struct {
	Env        string
	Image      string
	File       string // file changed, relative to the repository root
	From, To   string // tags; From is "" when the field had no value
	Digest     string
	Strategy   string // why: the policy
	Constraint string
}

// Message renders the commit message for env's changes in one cycle.
func Message(env string, changes []Change) string { panic("not implemented") }

// Parse reads the Tagwatch-Update trailers of a commit message.
func Parse(message string) []Change { panic("not implemented") }

// Entry is one change read back from history.
type Entry struct {
	Commit string
	Time   time.Time
	Change
}
