package policy

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Evaluating a semver constraint on many versions at once.
//
// semver.Constraints.Check formats an error for every version it rejects,
// which costs about a microsecond: most of selecting from a large tag list
// under a narrow constraint. Every comparator of the semver package is, over
// versions in precedence order, monotone (>, >=, <, <=), an interval with
// its version as lower end (=, ~, ^, x-ranges) or the complement of one
// (!= without wildcards; with them it is neither once pre-releases count,
// and the constraint is checked version by version). So over the sorted
// versions each comparator needs only a few checks
// (binary searches for its ends); groups intersect, alternatives unite, and
// a group without a pre-release comparator admits no pre-release, as in
// the semver package. FuzzRangeSet holds this equal to Check, version by
// version.

type cmpKind uint8

const (
	kindUp       cmpKind = iota // false … true: >, >=
	kindDown                    // true … false: <, <=
	kindInterval                // false, true …, false: =, ~, ^, x-ranges (from lower)
	kindOutside                 // true, false …, true: !=
)

type comparator struct {
	kind  cmpKind
	check *semver.Constraints // this comparator alone, pre-releases included
	lower *semver.Version     // interval kinds: the lowest version it can admit
}

type group struct {
	cmps   []comparator
	hasPre bool // a comparator has a pre-release: pre-releases may pass
}

// rangeSet is a constraint compiled for evaluation over sorted versions.
type rangeSet struct{ groups []group }

// newRangeSet splits a compiled constraint into its comparators (by the
// canonical form its String method prints) or returns nil when it cannot,
// and callers fall back to Check.
func newRangeSet(cs *semver.Constraints) *rangeSet {
	rs := &rangeSet{}
	for _, g := range strings.Split(cs.String(), " || ") {
		var grp group
		for _, s := range strings.Fields(g) {
			c, pre, ok := newComparator(s)
			if !ok {
				return nil
			}
			grp.cmps = append(grp.cmps, c)
			grp.hasPre = grp.hasPre || pre
		}
		if len(grp.cmps) == 0 {
			return nil
		}
		rs.groups = append(rs.groups, grp)
	}
	return rs
}

func newComparator(s string) (comparator, bool, bool) {
	ver := strings.TrimLeft(s, "=<>!~^")
	op := s[:len(s)-len(ver)]
	var c comparator
	switch op {
	case ">", ">=", "=>":
		c.kind = kindUp
	case "<", "<=", "=<":
		c.kind = kindDown
	case "", "=", "~", "~>", "^":
		c.kind = kindInterval
	case "!=":
		c.kind = kindOutside
	default:
		return c, false, false
	}
	cs, err := semver.NewConstraint(s)
	if err != nil {
		return c, false, false
	}
	cs.IncludePrerelease = true // raw comparator; groups decide about pre-releases
	c.check = cs
	core, _, _ := strings.Cut(strings.TrimPrefix(ver, "v"), "+")
	core, pre, hasPre := strings.Cut(core, "-")
	if c.kind == kindInterval || c.kind == kindOutside {
		// The lower end: wildcards and missing parts are zeros.
		parts := strings.Split(core, ".")
		dirty := len(parts) < 3
		for len(parts) < 3 {
			parts = append(parts, "0")
		}
		for i, p := range parts {
			if p == "x" || p == "X" || p == "*" || p == "" {
				dirty = true
				for j := i; j < len(parts); j++ {
					parts[j] = "0"
				}
				break
			}
		}
		if dirty && c.kind == kindOutside {
			return c, false, false
		}
		low := strings.Join(parts, ".")
		if hasPre {
			low += "-" + pre
		}
		if c.lower, err = semver.NewVersion(low); err != nil {
			return c, false, false
		}
	}
	return c, hasPre, true
}

// admit marks which of vs (sorted by precedence) the constraint admits.
func (rs *rangeSet) admit(vs []*semver.Version) []bool {
	n := len(vs)
	out := make([]bool, n)
	in := make([]bool, n)
	for _, g := range rs.groups {
		for i := range in {
			in[i] = g.hasPre || vs[i].Prerelease() == ""
		}
		for _, c := range g.cmps {
			lo, hi, outside := c.span(vs)
			for i := range in {
				if (i >= lo && i < hi) == outside {
					in[i] = false
				}
			}
		}
		for i := range out {
			out[i] = out[i] || in[i]
		}
	}
	return out
}

// span returns the indexes [lo, hi) of vs the comparator admits, or with
// outside those it rejects.
func (c comparator) span(vs []*semver.Version) (lo, hi int, outside bool) {
	n := len(vs)
	ok := func(i int) bool { return c.check.Check(vs[i]) }
	switch c.kind {
	case kindUp:
		return firstFrom(0, n, ok), n, false
	case kindDown:
		return 0, firstFrom(0, n, func(i int) bool { return !ok(i) }), false
	}
	lo = firstFrom(0, n, func(i int) bool { return vs[i].Compare(c.lower) >= 0 })
	if c.kind == kindInterval {
		return lo, firstFrom(lo, n, func(i int) bool { return !ok(i) }), false
	}
	return lo, firstFrom(lo, n, ok), true
}

// firstFrom is the first i in [lo, n) where pred holds, pred being false
// then true over the range (n when it never holds).
func firstFrom(lo, n int, pred func(int) bool) int {
	hi := n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if pred(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
