// Package gate decides ordered promotion (DESIGN §8): whether an
// environment may take an image because the environment it is promoted
// from has run that very image (its digest) for long enough, healthy.
//
// It is a pure function of what the loop read from Git (the from
// environment's audit history and its current value) and, in Kubernetes
// mode, from the from environment's Application: no I/O, no clock of its
// own (Now is an input), nothing stored. Git is the record: the soak starts
// at the commit time of the from environment's Tagwatch-Update trailer that
// introduced the digest.
//
// "Has run for soak" reads safely: the from environment runs the digest
// now, and has since a commit at least soak ago. A digest it ran and left
// (rolled back, superseded) does not count until it runs it again, and its
// soak then starts again.
package gate

import (
	"fmt"
	"strings"
	"time"
)

// Gate is the promotion rule of one environment.
type Gate struct {
	From           string        // the environment promoted from
	Soak           time.Duration // how long From must have run the digest
	RequireHealthy bool          // From's Application Healthy and Synced at a revision holding the commit
}

// Running is what the from environment runs now, as Git says: the value
// in its files at the start of the cycle, and the Tagwatch-Update trailer
// that put it there.
type Running struct {
	Tag    string
	Digest string    // from the trailer; "" when it names none
	Since  time.Time // commit time of that trailer's commit
	Commit string    // that commit
}

// Health is the from environment's Application, as Argo CD reports it.
type Health struct {
	Health string // status.health.status: Healthy, Progressing, Degraded, …
	Sync   string // status.sync.status: Synced, OutOfSync, …
	// Contains reports whether the revision the Application is synced at
	// holds the given commit (the loop answers from Git).
	Contains bool
	Revision string // status.sync.revision, for the reason
}

// Input is everything Check looks at.
type Input struct {
	Gate   Gate
	Digest string // the candidate's digest
	// Running is what Gate.From runs now; nil when Git holds no trailer of
	// tagwatch's for it (it never ran an image through tagwatch, its
	// history was rewritten, or its value was changed by hand since).
	Running *Running
	// Unknown, when Running is nil, says why in words (the loop's finding).
	Unknown string
	Health  *Health // nil: unknown (required only with RequireHealthy)
	Now     time.Time
}

// Result is the gate's verdict.
type Result struct {
	Open   bool
	Reason string // always set: why it is open, or why it holds
}

// Check decides whether the candidate digest may be taken.
func Check(in Input) Result {
	g, from, d := in.Gate, in.Gate.From, short(in.Digest)
	switch {
	case in.Digest == "":
		return Result{Reason: fmt.Sprintf("the candidate's digest is unknown: %s cannot vouch for it", from)}
	case in.Running == nil && in.Unknown != "":
		return Result{Reason: fmt.Sprintf("%s has never run %s through tagwatch: %s", from, d, in.Unknown)}
	case in.Running == nil:
		return Result{Reason: fmt.Sprintf("%s has never run %s", from, d)}
	case in.Running.Digest == "":
		return Result{Reason: fmt.Sprintf("%s runs %s, but its commit %s names no digest: the gate cannot tell which image it is", from, in.Running.Tag, shortCommit(in.Running.Commit))}
	case in.Running.Digest != in.Digest:
		return Result{Reason: fmt.Sprintf("%s has never run %s (it runs %s, %s)", from, d, in.Running.Tag, short(in.Running.Digest))}
	}
	r := in.Running
	soakedAt := r.Since.Add(g.Soak)
	ran := in.Now.Sub(r.Since)
	if ran < 0 {
		// The commit is dated after now (clock skew): the soak has not
		// started, whatever the dates say.
		return Result{Reason: fmt.Sprintf("waiting: %s has run %s for 0s of %s (its commit %s is dated %s in the future)",
			from, d, human(g.Soak), shortCommit(r.Commit), human(round(-ran)))}
	}
	if ran < g.Soak {
		return Result{Reason: fmt.Sprintf("waiting: %s has run %s for %s of %s", from, d, human(round(ran)), human(g.Soak))}
	}
	if g.RequireHealthy {
		h := in.Health
		switch {
		case h == nil:
			return Result{Reason: fmt.Sprintf("%s's health is unknown", from)}
		case h.Health != "Healthy":
			return Result{Reason: fmt.Sprintf("%s is %s", from, orUnknown(h.Health))}
		case h.Sync != "Synced":
			return Result{Reason: fmt.Sprintf("%s is %s", from, orUnknown(h.Sync))}
		case !h.Contains:
			return Result{Reason: fmt.Sprintf("%s is synced at %s, which does not hold %s yet", from, shortCommit(h.Revision), shortCommit(r.Commit))}
		}
	}
	reason := fmt.Sprintf("%s has run %s since %s (commit %s): %s of soak, satisfied at %s",
		from, d, r.Since.UTC().Format(time.RFC3339), shortCommit(r.Commit), human(g.Soak), soakedAt.UTC().Format(time.RFC3339))
	if g.RequireHealthy {
		reason += ", and is Healthy and Synced"
	}
	return Result{Open: true, Reason: reason}
}

// human writes d as people do: 30m, 1h30m, 12m5s (time.Duration's
// String without its trailing zero units).
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// round makes durations readable: whole seconds, whole minutes past an hour.
func round(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

func shortCommit(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return c
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// Order returns the environments in promotion order: every environment
// after the one it is promoted from. from maps an environment to its
// Gate.From ("" or absent: not gated). It fails, naming them, on a cycle or
// on a from that is not in names.
func Order(names []string, from map[string]string) ([]string, error) {
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	for _, n := range names {
		if f := from[n]; f != "" && !known[f] {
			return nil, fmt.Errorf("%s is promoted from %q, which is not an environment of its repository and branch", n, f)
		}
	}
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var out []string
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("promotion cycle: %s", joinArrow(append(path, n)))
		case 2:
			return nil
		}
		state[n] = 1
		if f := from[n]; f != "" {
			if err := visit(f, append(path, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func joinArrow(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += " <- "
		}
		s += n
	}
	return s
}
