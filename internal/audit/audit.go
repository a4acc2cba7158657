// Package audit writes and reads tagwatch's audit commits (DESIGN.md §4):
// the subject, a body in words, and one Tagwatch-Update trailer per change.
package audit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TrailerKey is the git trailer tagwatch writes, one per change.
const TrailerKey = "Tagwatch-Update"

// Change is one image moved in one environment.
type Change struct {
	Env        string
	Image      string
	File       string // file changed, relative to the repository root
	From, To   string // tags; From is "" when the field had no value
	Digest     string
	Strategy   string // why: the policy
	Constraint string
	// PromotedFrom is the environment whose gate let the change through
	// (DESIGN §8): the trailer's second from=. Gate says in words why the
	// gate opened, for the body.
	PromotedFrom string
	Gate         string
}

// Entry is one change read back from history.
type Entry struct {
	Kind       string // KindUpdate, KindRollback or KindCleared
	Repository string // the repository read ("" when only one was)
	Commit     string
	Time       time.Time
	Author     string // the commit's author name
	// Signature is the kind of signature the commit carries ("ssh",
	// "openpgp", "x509", "other"), "" when it is unsigned.
	Signature string
	Change
}

// Message renders the commit message for env's changes in one cycle.
//
// The subject is "tagwatch(<env>): <image> <from> -> <to>" for one image
// ("(none)" stands for an empty from) and "tagwatch(<env>): update N images"
// for more. The body says in words what changed, in which files, and under
// which policy. The message ends with one Tagwatch-Update trailer per
// image: changes of one image to one value in several files of the
// environment make one trailer. The output does not depend on the order of
// changes, and changes is not modified.
func Message(env string, changes []Change) string {
	sorted := slices.Clone(changes)
	slices.SortStableFunc(sorted, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Image, b.Image), cmp.Compare(a.To, b.To), cmp.Compare(a.Digest, b.Digest),
			cmp.Compare(a.From, b.From), cmp.Compare(a.File, b.File))
	})
	groups := group(sorted)

	var b strings.Builder
	if len(groups) == 1 {
		c := groups[0].Change
		fmt.Fprintf(&b, "tagwatch(%s): %s %s -> %s", env, c.Image, orNone(c.From), c.To)
		if c.From == c.To && c.Digest != "" {
			fmt.Fprintf(&b, " (%s)", ShortDigest(c.Digest))
		}
	} else {
		fmt.Fprintf(&b, "tagwatch(%s): update %d images", env, len(groups))
	}
	b.WriteString("\n\n")
	for _, g := range groups {
		b.WriteString(wrap(sentence(env, g), 72))
		b.WriteString("\n\n")
	}
	for _, g := range groups {
		b.WriteString(Trailer(g.Change))
		b.WriteByte('\n')
	}
	return b.String()
}

// changeGroup is one image moved to one value, in one or more files.
type changeGroup struct {
	Change
	files []string
}

func group(sorted []Change) []changeGroup {
	var gs []changeGroup
	for _, c := range sorted {
		if n := len(gs); n > 0 {
			last := &gs[n-1]
			if last.Image == c.Image && last.From == c.From && last.To == c.To && last.Digest == c.Digest {
				if c.File != "" && !slices.Contains(last.files, c.File) {
					last.files = append(last.files, c.File)
				}
				continue
			}
		}
		g := changeGroup{Change: c}
		if c.File != "" {
			g.files = []string{c.File}
		}
		gs = append(gs, g)
	}
	return gs
}

// sentence explains one change in words.
func sentence(env string, g changeGroup) string {
	var b strings.Builder
	switch {
	case g.From == "":
		fmt.Fprintf(&b, "Set %s in environment %s to %s; the field had no value before.", g.Image, env, g.To)
	case g.From == g.To:
		fmt.Fprintf(&b, "Moved %s in environment %s to the image now behind tag %s.", g.Image, env, g.To)
	default:
		fmt.Fprintf(&b, "Moved %s in environment %s from %s to %s.", g.Image, env, g.From, g.To)
	}
	if g.Digest != "" {
		fmt.Fprintf(&b, " The new image is %s.", g.Digest)
	}
	if len(g.files) > 0 {
		fmt.Fprintf(&b, " Changed %s.", strings.Join(g.files, ", "))
	}
	if why := reason(g.Change); why != "" {
		b.WriteString(" ")
		b.WriteString(why)
	}
	if g.PromotedFrom != "" {
		fmt.Fprintf(&b, " The promotion gate from %s opened: %s.", g.PromotedFrom, g.Gate)
	}
	return b.String()
}

// reason says why, from the policy.
func reason(c Change) string {
	switch {
	case c.Strategy == "digest":
		return fmt.Sprintf("The policy follows the digest of tag %s, which changed.", cmp.Or(c.Constraint, c.To))
	case c.Strategy != "" && c.Constraint != "":
		return fmt.Sprintf("%s is the best tag under the %s policy with constraint %q.", c.To, c.Strategy, c.Constraint)
	case c.Strategy != "":
		return fmt.Sprintf("%s is the best tag under the %s policy, without a constraint.", c.To, c.Strategy)
	}
	return ""
}

// Trailer renders the Tagwatch-Update trailer of c (without a newline).
// Values are escaped so that each stays one word (see Parse).
//
// A gated change ends with from=<environment> (DESIGN §8): the second
// from= of the trailer, after digest=, names the environment it was
// promoted from; the first is always the previous value.
func Trailer(c Change) string {
	t := fmt.Sprintf("%s: env=%s image=%s from=%s to=%s digest=%s", TrailerKey,
		escape(c.Env), escape(c.Image), escape(c.From), escape(c.To), escape(c.Digest))
	if c.PromotedFrom != "" {
		t += " from=" + escape(c.PromotedFrom)
	}
	return t
}

// Parse reads the Tagwatch-Update trailers of a commit message, in order.
// Every line that starts with the trailer key (any case) is read, so the
// trailers of squashed commits count too; other lines and trailers are
// ignored, and so are trailers without env= and image=. Unknown keys
// inside a trailer are ignored. A trailer folded over several lines (git
// continues a trailer on lines that start with whitespace) is unfolded.
func Parse(message string) []Change {
	var out []Change
	for _, r := range ParseRecords(message) {
		if r.Kind == KindUpdate {
			out = append(out, r.Change)
		}
	}
	return out
}

// ParseRecords reads every tagwatch trailer of a commit message, in order:
// Tagwatch-Update, Tagwatch-Rollback and Tagwatch-Rollback-Cleared, by the
// rules of Parse.
func ParseRecords(message string) []Record {
	var out []Record
	lines := strings.Split(strings.ReplaceAll(message, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		key, val, ok := strings.Cut(lines[i], ":")
		if !ok || strings.HasPrefix(key, " ") {
			continue
		}
		kind, known := trailerKinds[strings.ToLower(strings.TrimSpace(key))]
		if !known {
			continue
		}
		for i+1 < len(lines) && lines[i+1] != "" && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			val += " " + strings.TrimSpace(lines[i])
		}
		if c, ok := parseValue(val); ok {
			out = append(out, Record{Kind: kind, Change: c})
		}
	}
	return out
}

// parseValue reads "env=… image=… from=… to=… digest=…".
func parseValue(val string) (Change, bool) {
	var c Change
	var hasEnv, hasImage, seenFrom bool
	for _, field := range strings.Fields(val) {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			continue
		}
		v = unescape(v)
		switch k {
		case "env":
			c.Env, hasEnv = v, true
		case "image":
			c.Image, hasImage = v, true
		case "from":
			if seenFrom {
				c.PromotedFrom = v // a gated change: the second from= (see Trailer)
			} else {
				c.From, seenFrom = v, true
			}
		case "to":
			c.To = v
		case "digest":
			c.Digest = v
		}
	}
	return c, hasEnv && hasImage && c.Env != "" && c.Image != ""
}

// escape percent-encodes what would break a trailer word: '%', space,
// control characters and anything outside printable ASCII. Tags, image
// names and digests never contain these, so in practice values are written
// as they are.
func escape(s string) string {
	if !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if needsEscape(rune(s[i])) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func needsEscape(r rune) bool { return r <= ' ' || r >= 0x7f || r == '%' }

// unescape reverses escape; malformed escapes are kept as written.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if x, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(x))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ShortDigest is "sha256:" and the first 12 hex digits of d ("" stays "").
func ShortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// wrap folds text at width on spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(text) {
		if i > 0 {
			if n+1+len(w) > width {
				b.WriteByte('\n')
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
