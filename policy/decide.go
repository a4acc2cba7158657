package policy

import (
	"fmt"
	"strings"
)

// decide compares the best candidate with the value in Git.
func (p *Policy) decide(best *cand, ranked []*cand, tags []Tag, cur Current) (Decision, string) {
	n := len(ranked)
	if p.spec.Strategy == Digest {
		return p.decideDigest(best, cur)
	}
	if cur.Tag == "" {
		return Update, fmt.Sprintf("%q is the best of %s under %s and Git holds no tag yet.", best.tag, plural(n, "candidate"), p.describe())
	}
	if cur.Tag == best.tag {
		return UpToDate, fmt.Sprintf("Git already holds %q, the best of %s under %s.", best.tag, plural(n, "candidate"), p.describe())
	}
	c, why := p.current(cur.Tag, ranked, tags)
	if c == nil {
		return Update, fmt.Sprintf("The tag in Git, %q, %s, so it cannot be ranked and %q, the best of %s, replaces it.", cur.Tag, why, best.tag, plural(n, "candidate"))
	}
	if p.compare(best, c) > 0 {
		return Update, fmt.Sprintf("%q ranks above %q, the tag in Git, under %s.", best.tag, cur.Tag, p.describe())
	}
	tie := ""
	if p.tied(best, c) {
		tie = fmt.Sprintf(" (same %s, and the tie goes to the lexically greater %s)", p.tieWhat(), p.tieSide(best, c))
	}
	if p.spec.AllowDowngrade {
		return Update, fmt.Sprintf("The tag in Git, %q, ranks above the best candidate %q under %s%s; downgrading because allowDowngrade is set.", cur.Tag, best.tag, p.describe(), tie)
	}
	return Held, fmt.Sprintf("The tag in Git, %q, ranks above the best candidate %q under %s%s, so it is held (set allowDowngrade to go down).", cur.Tag, best.tag, p.describe(), tie)
}

// tied reports whether a and b are equal under the strategy itself, before
// the tie-breaks by key and tag.
func (p *Policy) tied(a, b *cand) bool {
	if a.rank != b.rank {
		return false
	}
	return a.ver == nil || b.ver == nil || a.ver.Compare(b.ver) == 0
}

func (p *Policy) tieWhat() string {
	switch p.spec.Strategy {
	case Semver:
		return "precedence"
	case Numerical:
		return "number"
	case NewestBuild:
		return "build time"
	}
	return "key"
}

func (p *Policy) tieSide(a, b *cand) string {
	if p.extract != "" && a.key != b.key {
		return "extracted key"
	}
	return "tag"
}

// current ranks the tag in Git under the policy's ranking, regardless of the
// filters, or says why it cannot.
func (p *Policy) current(tag string, ranked []*cand, tags []Tag) (*cand, string) {
	if p.spec.Strategy == NewestBuild {
		for _, c := range ranked {
			if c.tag == tag {
				return c, ""
			}
		}
		// Filtered out, but the caller may still have given its metadata.
		var found *cand
		for i := range tags {
			if tags[i].Name != tag {
				continue
			}
			if b := p.buildTime(&tags[i]); !b.IsZero() {
				if r := timeRank(b); found == nil || r > found.rank {
					found = &cand{tag: tag, key: tag, rank: r}
				}
			}
		}
		if found == nil {
			return nil, "has no known build time (it is not among the listed tags with metadata)"
		}
		return found, ""
	}
	key, ok := p.keyOf(tag)
	if !ok {
		return nil, "does not match allowTags, which extract needs"
	}
	c := &cand{tag: tag, key: key}
	if !p.parseKey(c, nil) {
		what := "a number"
		if p.spec.Strategy == Semver {
			what = "a MAJOR.MINOR.PATCH version"
			if p.spec.Loose {
				what = "a version"
			}
		}
		if p.extract != "" {
			return nil, fmt.Sprintf("extracts to %q, which is not %s", key, what)
		}
		return nil, "is not " + what
	}
	return c, ""
}

func (p *Policy) decideDigest(best *cand, cur Current) (Decision, string) {
	switch {
	case cur.Digest == "":
		return Update, fmt.Sprintf("Git holds no digest yet; %q is at %s.", best.tag, best.digest)
	case cur.Digest == best.digest && (cur.Tag == "" || cur.Tag == best.tag):
		return UpToDate, fmt.Sprintf("Git already holds %q at %s.", best.tag, best.digest)
	case cur.Digest == best.digest:
		return Update, fmt.Sprintf("Git holds tag %q at the same digest; the policy follows %q.", cur.Tag, best.tag)
	default:
		return Update, fmt.Sprintf("The digest behind %q changed from %s to %s.", best.tag, cur.Digest, best.digest)
	}
}

// String names the ranking in words, for logs and commit messages:
// `semver ">=1.0.0"`, "numerical order (smallest first)", "newest-build".
func (p *Policy) String() string { return p.describe() }

// describe names the ranking in words: `semver ">=1.0.0"`.
func (p *Policy) describe() string {
	s := p.spec
	switch s.Strategy {
	case Semver:
		c := s.Constraint
		if strings.TrimSpace(c) == "" {
			c = "*"
		}
		d := fmt.Sprintf("semver %q", c)
		if s.Loose {
			d += " (loose)"
		}
		return d
	case Alphabetical, Numerical:
		if p.desc {
			return string(s.Strategy) + " order (smallest first)"
		}
		return string(s.Strategy) + " order"
	case Digest:
		return fmt.Sprintf("digest of %q", s.Constraint)
	}
	if len(s.Platforms) > 0 {
		return fmt.Sprintf("%s (%s)", s.Strategy, strings.Join(s.Platforms, ", "))
	}
	return string(s.Strategy)
}

// String sums up the stats in words: "7 tags seen: 2 removed by cosign, 1
// unparsable, 4 candidates".
func (s Stats) String() string {
	parts := []string{}
	for _, r := range []string{RuleCosign, RuleIgnoreTags, RuleAllowTags, RuleDigestTag, RulePlatforms, RuleConstraint} {
		if n := s.Filtered[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d removed by %s", n, r))
		}
	}
	if s.Unparsable > 0 {
		parts = append(parts, fmt.Sprintf("%d unparsable", s.Unparsable))
	}
	if s.Duplicates > 0 {
		parts = append(parts, plural(s.Duplicates, "duplicate"))
	}
	parts = append(parts, plural(s.Candidates, "candidate"))
	return plural(s.Seen, "tag") + " seen: " + strings.Join(parts, ", ")
}

// lost says where the tags went when none is left.
func (s Stats) lost() string {
	if s.Seen == 0 {
		return "the repository has no tags"
	}
	return s.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
