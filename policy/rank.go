package policy

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// cand is a tag that survived the filters, with its parsed sort key.
type cand struct {
	tag    string // the original tag: what Select returns
	key    string // extract's expansion, or the tag
	rank   string // the parsed key, encoded so that byte order is the strategy's order
	ver    *semver.Version
	digest string
	// rejected: outside the constraint (applyRanges), dropped before ranking
	rejected bool
}

// parseKey parses c.key (or, for newest-build and digest, the metadata of
// t) under the strategy into c.rank and reports whether it could.
func (p *Policy) parseKey(c *cand, t *Tag) bool {
	switch p.spec.Strategy {
	case Semver:
		c.ver = parseSemver(c.key, p.spec.Loose)
		if c.ver == nil {
			return false
		}
		c.rank = semverRank(c.ver)
	case Numerical:
		d, ok := parseDecimal(c.key)
		if !ok {
			return false
		}
		c.rank = d.encode()
	case NewestBuild:
		b := p.buildTime(t)
		if b.IsZero() {
			return false
		}
		c.rank = timeRank(b)
	case Digest:
		if c.digest == "" {
			return false
		}
		c.rank = c.digest
	default: // alphabetical: any string, byte-wise
		c.rank = c.key
	}
	return true
}

// semverRank encodes MAJOR.MINOR.PATCH and whether it is a release, which
// ranks above the pre-releases of the same version. Pre-releases of the
// same version tie here; compare asks the semver package.
func semverRank(v *semver.Version) string {
	b := make([]byte, 0, 25)
	b = binary.BigEndian.AppendUint64(b, v.Major())
	b = binary.BigEndian.AppendUint64(b, v.Minor())
	b = binary.BigEndian.AppendUint64(b, v.Patch())
	if v.Prerelease() == "" {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return string(b)
}

func timeRank(t time.Time) string {
	b := make([]byte, 0, 12)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	return string(b)
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
	c := strings.Compare(a.rank, b.rank)
	if c == 0 && a.ver != nil && b.ver != nil && a.ver.Prerelease() != "" {
		c = a.ver.Compare(b.ver)
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

// semverTag is a tag scanned as [v]MAJOR.MINOR.PATCH[-pre][+build] (with
// loose also MAJOR.MINOR and MAJOR) without allocating: non-versions are
// rejected here cheaply, before the semver package sees them.
type semverTag struct {
	core      [3]uint64
	pre, meta string
	body      string // tag without "v"
	end       int    // end of the numeric core in body
	normalize bool   // leading zeros or missing groups: body is not strict semver as is
}

func scanSemver(tag string, loose bool) (st semverTag, ok bool) {
	if len(tag) > semver.MaxVersionLen {
		return st, false
	}
	s := strings.TrimPrefix(tag, "v")
	st.body = s
	parts, start := 0, 0
	for i := 0; ; i++ {
		if i < len(s) && '0' <= s[i] && s[i] <= '9' {
			d := uint64(s[i] - '0')
			if st.core[parts] > (1<<64-1-d)/10 {
				return st, false // beyond uint64
			}
			st.core[parts] = st.core[parts]*10 + d
			continue
		}
		if i == start {
			return st, false // empty group
		}
		if s[start] == '0' && i-start > 1 {
			st.normalize = true
		}
		parts++
		if i == len(s) || s[i] == '-' || s[i] == '+' {
			st.end = i
			break
		}
		if s[i] != '.' || parts == 3 {
			return st, false
		}
		start = i + 1
	}
	switch {
	case parts == 3:
	case loose:
		st.normalize = true
	default:
		return st, false
	}
	rest := s[st.end:]
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		st.meta = rest[i+1:]
		if st.meta == "" {
			return st, false
		}
		rest = rest[:i]
	}
	if rest != "" {
		st.pre = rest[1:]
		if st.pre == "" {
			return st, false
		}
	}
	return st, true
}

// valid reports whether the pre-release and build parts are dot-separated
// non-empty identifiers of [0-9A-Za-z-], numeric pre-release identifiers
// without leading zeros: SemVer 2.0.0 §9-10, as the semver package checks
// them (FuzzParseSemver holds the two together).
func (st semverTag) valid() bool {
	return (st.pre == "" || validIdents(st.pre, true)) && (st.meta == "" || validIdents(st.meta, false))
}

func validIdents(s string, pre bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// version builds the semver.Version; the semver package validates the
// pre-release and build parts (StrictNewVersion).
func (st semverTag) version() *semver.Version {
	s := st.body
	if st.normalize {
		s = fmt.Sprintf("%d.%d.%d%s", st.core[0], st.core[1], st.core[2], s[st.end:])
	}
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		return nil
	}
	return v
}

// parseSemver parses [v]MAJOR.MINOR.PATCH[-pre][+build] (with loose also
// MAJOR.MINOR and MAJOR, as .0). Leading zeros in the numeric core are
// accepted and dropped, as Flux and Argo CD Image Updater do, so calver
// tags like 2026.01.15 are versions (2026.1.15). It returns nil for
// anything else.
func parseSemver(tag string, loose bool) *semver.Version {
	st, ok := scanSemver(tag, loose)
	if !ok {
		return nil
	}
	return st.version()
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

// encode returns a string whose byte order is the numeric order: a sign
// class, the length of the integer part (inverted for negatives), then the
// digits (inverted for negatives, ended by '~', above every digit, so that
// -5 > -5.1).
func (d decimal) encode() string {
	if d.int == "" && d.frac == "" {
		return "O"
	}
	n := uint32(len(d.int))
	b := make([]byte, 0, 6+len(d.int)+len(d.frac))
	if !d.neg {
		b = append(b, 'P')
		b = binary.BigEndian.AppendUint32(b, n)
		b = append(b, d.int...)
		return string(append(b, d.frac...))
	}
	b = append(b, 'N')
	b = binary.BigEndian.AppendUint32(b, ^n)
	for _, s := range []string{d.int, d.frac} {
		for i := 0; i < len(s); i++ {
			b = append(b, '9'-s[i]+'0')
		}
	}
	return string(append(b, '~'))
}

// cmp compares exactly; encode must agree with it (FuzzParseDecimal).
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
