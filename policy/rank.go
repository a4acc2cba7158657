package policy

import (
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// cand is a tag that survived the filters, with its parsed sort key.
type cand struct {
	tag    string // the original tag: what Select returns
	key    string // extract's expansion, or the tag
	ver    *semver.Version
	num    decimal
	built  time.Time
	digest string
}

// parseKey fills c's ranking field from c.key (or, for newest-build and
// digest, from the metadata of t) and reports whether it could.
func (p *Policy) parseKey(c *cand, t *Tag) bool {
	switch p.spec.Strategy {
	case Semver:
		c.ver = parseSemver(c.key, p.spec.Loose)
		return c.ver != nil
	case Numerical:
		var ok bool
		c.num, ok = parseDecimal(c.key)
		return ok
	case NewestBuild:
		c.built = p.buildTime(t)
		return !c.built.IsZero()
	case Digest:
		return c.digest != ""
	}
	return true // alphabetical: any string
}

// buildTime is the newest Created among t's platforms that match
// Spec.Platforms (all of them when none are asked for), else t.Created.
func (p *Policy) buildTime(t *Tag) time.Time {
	var newest time.Time
	for _, pl := range t.Platforms {
		if len(p.platforms) > 0 && !p.wants(pl.Platform) {
			continue
		}
		if pl.Created.After(newest) {
			newest = pl.Created
		}
	}
	if newest.IsZero() {
		return t.Created
	}
	return newest
}

func (p *Policy) wants(have string) bool {
	for _, w := range p.platforms {
		if w.matches(have) {
			return true
		}
	}
	return false
}

// compare ranks a against b: > 0 when a is the better tag. The order is
// total over distinct tags: a tie of the strategy (equal precedence, equal
// number, same build time) goes to the lexically greater key, then the
// lexically greater original tag, whatever Order says.
func (p *Policy) compare(a, b *cand) int {
	var c int
	switch p.spec.Strategy {
	case Semver:
		c = a.ver.Compare(b.ver)
	case Numerical:
		c = a.num.cmp(b.num)
	case NewestBuild:
		c = a.built.Compare(b.built)
	case Digest:
		c = strings.Compare(a.digest, b.digest)
	default:
		c = strings.Compare(a.key, b.key)
	}
	if p.desc {
		c = -c
	}
	if c != 0 {
		return c
	}
	if c = strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.tag, b.tag)
}

// parseSemver parses [v]MAJOR.MINOR.PATCH[-pre][+build] (with loose also
// MAJOR.MINOR and MAJOR, as .0). Leading zeros in the numeric core are
// accepted and dropped, as Flux and Argo CD Image Updater do, so calver
// tags like 2026.01.15 are versions (2026.1.15). It returns nil for
// anything else. Validation of the pre-release and build parts is the
// semver package's (StrictNewVersion).
func parseSemver(tag string, loose bool) *semver.Version {
	s := tag
	if len(s) > semver.MaxVersionLen {
		return nil
	}
	if strings.HasPrefix(s, "v") {
		s = s[1:]
	}
	// Scan the numeric core: digit groups separated by dots, ending at
	// '-', '+' or the end. Non-versions are rejected here cheaply.
	parts, end, normalize := 0, len(s), false
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && '0' <= s[i] && s[i] <= '9' {
			continue
		}
		if i == start { // empty group
			return nil
		}
		if s[start] == '0' && i-start > 1 {
			normalize = true
		}
		parts++
		if i == len(s) || s[i] == '-' || s[i] == '+' {
			end = i
			break
		}
		if s[i] != '.' || parts == 3 {
			return nil
		}
		start = i + 1
	}
	switch {
	case parts == 3:
	case loose && parts < 3:
		normalize = true
	default:
		return nil
	}
	if normalize {
		s = normalizeCore(s[:end]) + s[end:]
	}
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		return nil
	}
	return v
}

// normalizeCore drops leading zeros of each group and pads to three groups.
func normalizeCore(core string) string {
	groups := strings.Split(core, ".")
	for i, g := range groups {
		g = strings.TrimLeft(g, "0")
		if g == "" {
			g = "0"
		}
		groups[i] = g
	}
	for len(groups) < 3 {
		groups = append(groups, "0")
	}
	return strings.Join(groups, ".")
}

// decimal is an exact decimal number: [+-]digits[.digits]. Numbers of any
// size compare exactly (no float rounding: 1700000000123456789 and
// 1700000000123456790 differ). Leading zeros of the integer part and
// trailing zeros of the fraction do not count: 007 == 7 and 1.50 == 1.5
// rank equal (and the tie goes to the lexically greater tag).
type decimal struct {
	neg       bool
	int, frac string // int without leading zeros ("" for 0), frac without trailing zeros
}

func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s != "" && (s[0] == '-' || s[0] == '+') {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(intPart) || hasDot && !allDigits(frac) {
		return decimal{}, false
	}
	d.int = strings.TrimLeft(intPart, "0")
	d.frac = strings.TrimRight(frac, "0")
	if d.int == "" && d.frac == "" {
		d.neg = false // -0 == 0
	}
	return d, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (a decimal) cmp(b decimal) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := a.abscmp(b)
	if a.neg {
		return -c
	}
	return c
}

func (a decimal) abscmp(b decimal) int {
	if len(a.int) != len(b.int) {
		if len(a.int) < len(b.int) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.int, b.int); c != 0 {
		return c
	}
	return strings.Compare(a.frac, b.frac)
}
