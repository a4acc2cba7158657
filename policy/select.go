package policy

import (
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// Select ranks tags under the policy and decides against cur. It never
// mutates tags and is deterministic for any input order.
//
// Each tag goes through, in order: the cosign, ignoreTags, allowTags and
// digest-tag name rules, the platforms rule, parsing under the strategy
// (failures count as Unparsable) and, for semver, the constraint. The
// survivors are ranked best first; entries that are the same tag twice, or
// whose extracted keys are equal strings, collapse into the best of them
// (counted as Duplicates). Then Current is ranked the same way and compared
// with the best candidate: see Decision.
//
// Select is Rank followed by Decide; a caller deciding for several values
// of the same tags (environments sharing an image and a policy) ranks once.
func (p *Policy) Select(tags []Tag, cur Current) Result {
	return p.Rank(tags).Decide(cur)
}

// Ranking is tags ranked under a policy: all of Select that does not
// depend on the value in Git, done once. It is immutable and safe for
// concurrent use; it keeps tags (Decide reads the metadata of the tag in
// Git there), which the caller must not modify while it uses the Ranking.
type Ranking struct {
	p      *Policy
	tags   []Tag
	ranked []*cand
	stats  Stats
}

// Rank filters, parses and ranks tags under the policy (see Select). It
// never mutates tags.
func (p *Policy) Rank(tags []Tag) *Ranking {
	parts, counts := p.collectAll(tags)
	if p.ranges != nil {
		p.applyRanges(parts, &counts)
	}
	st := Stats{Seen: len(tags), Unparsable: counts.unparsable}
	for r := ruleCosign; r < nRules; r++ {
		if n := counts.dropped[r]; n > 0 {
			if st.Filtered == nil {
				st.Filtered = make(map[string]int)
			}
			st.Filtered[ruleNames[r]] = n
		}
	}
	ranked := p.rank(parts, &st)
	return &Ranking{p: p, tags: tags, ranked: ranked, stats: st}
}

// Decide compares the best candidate with cur, the value in Git: the
// Result Select would return for the ranked tags and cur. Each Result gets
// its own Candidates and Stats.
func (r *Ranking) Decide(cur Current) Result {
	st := r.stats
	if st.Filtered != nil {
		filtered := make(map[string]int, len(st.Filtered))
		for k, v := range st.Filtered {
			filtered[k] = v
		}
		st.Filtered = filtered
	}
	res := Result{Stats: st}
	res.Candidates = make([]string, len(r.ranked))
	for i, c := range r.ranked {
		res.Candidates[i] = c.tag
	}
	if len(r.ranked) == 0 {
		res.Decision = None
		res.Reason = "No candidate: " + st.lost() + "."
		return res
	}
	best := r.ranked[0]
	res.Tag, res.Digest = best.tag, best.digest
	res.Decision, res.Reason = r.p.decide(best, r.ranked, r.tags, cur)
	return res
}

// counts are the drops of one collect.
type counts struct {
	dropped    [nRules]int
	unparsable int
}

// parallelMin is the number of tags from which collectAll splits the work
// between goroutines: parsing and constraint checks are independent per tag.
const parallelMin = 16384

// collectAll is collect over all tags, in chunks on several CPUs when there
// are many. It returns the candidates of each chunk.
func (p *Policy) collectAll(tags []Tag) ([][]cand, counts) {
	n := min(runtime.GOMAXPROCS(0), len(tags)/(parallelMin/2), 8)
	if n < 2 {
		var c counts
		return [][]cand{p.collect(tags, &c)}, c
	}
	parts := make([][]cand, n)
	cs := make([]counts, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := i*len(tags)/n, (i+1)*len(tags)/n
		wg.Go(func() { parts[i] = p.collect(tags[lo:hi], &cs[i]) })
	}
	wg.Wait()
	var total counts
	for i := range cs {
		for r := range total.dropped {
			total.dropped[r] += cs[i].dropped[r]
		}
		total.unparsable += cs[i].unparsable
	}
	return parts, total
}

// collect runs tags through the filters and parses their keys.
func (p *Policy) collect(tags []Tag, cnt *counts) []cand {
	// Semver keeps few of a large list (most tags are not versions, or
	// outside the constraint); the other strategies keep most.
	size := 64
	if p.spec.Strategy != Semver {
		size = len(tags)
	}
	cands := make([]cand, 0, size)
	for i := range tags {
		t := &tags[i]
		r, key := p.nameRule(t.Name)
		if r == keep && len(p.platforms) > 0 && !p.platformsOK(t) {
			r = rulePlatforms
		}
		if r != keep {
			cnt.dropped[r]++
			continue
		}
		c := cand{tag: t.Name, key: key, digest: t.Digest}
		if p.spec.Strategy == Semver {
			var parsed, admitted bool
			c.ver, parsed, admitted = p.judgeSemver(key)
			if !parsed {
				cnt.unparsable++
				continue
			}
			if !admitted {
				cnt.dropped[ruleConstraint]++
				continue
			}
			c.rank = semverRank(c.ver)
		} else if !p.parseKey(&c, t) {
			cnt.unparsable++
			continue
		}
		cands = append(cands, c)
	}
	return cands
}

// judgeSemver parses key as a version and reports whether the constraint
// admits it (v is nil when it is not parsed because it cannot pass).
// Pre-releases skip the semver package when the constraint has no
// pre-release comparator, for they cannot pass: it formats an error for every
// version a constraint rejects, which dominates selection from large tag
// lists.
func (p *Policy) judgeSemver(key string) (v *semver.Version, parsed, admitted bool) {
	st, ok := scanSemver(key, p.spec.Loose)
	if !ok || !st.valid() {
		return nil, false, false
	}
	if st.pre != "" && !p.preComparator {
		return nil, true, false
	}
	if v = st.version(); v == nil {
		return nil, false, false
	}
	if p.ranges != nil {
		return v, true, true // applyRanges decides for all versions at once
	}
	return v, true, p.constraint.Check(v)
}

// applyRanges drops the candidates the constraint does not admit, deciding
// for all versions at once over their sorted order (see rangeSet).
func (p *Policy) applyRanges(parts [][]cand, cnt *counts) {
	var all []*cand
	for _, part := range parts {
		for i := range part {
			all = append(all, &part[i])
		}
	}
	if len(all) == 0 {
		return
	}
	slices.SortFunc(all, func(a, b *cand) int { return a.ver.Compare(b.ver) })
	vs := make([]*semver.Version, len(all))
	for i, c := range all {
		vs[i] = c.ver
	}
	for i, ok := range p.ranges.admit(vs) {
		if !ok {
			all[i].rejected = true
			cnt.dropped[ruleConstraint]++
		}
	}
	for i, part := range parts {
		kept := part[:0]
		for _, c := range part {
			if !c.rejected {
				kept = append(kept, c)
			}
		}
		parts[i] = kept
	}
}

// rank collapses duplicates and returns the candidates best first.
func (p *Policy) rank(parts [][]cand, st *Stats) []*cand {
	byName := p.spec.Strategy == NewestBuild || p.spec.Strategy == Digest
	n := 0
	for _, part := range parts {
		n += len(part)
	}
	ptrs := make([]*cand, 0, n)
	var seen map[string]*cand
	if byName {
		seen = make(map[string]*cand, n)
	}
	for _, part := range parts {
		for i := range part {
			c := &part[i]
			if byName {
				// The same tag listed twice with different metadata: keep
				// the newest build (or greatest digest), then the greatest digest.
				if old, ok := seen[c.tag]; ok {
					st.Duplicates++
					if c.rank > old.rank || c.rank == old.rank && c.digest > old.digest {
						*old = *c
					}
					continue
				}
				seen[c.tag] = c
			}
			ptrs = append(ptrs, c)
		}
	}
	// Sort small items that carry the rank inline: most comparisons end
	// at the first bytes of the ranks.
	type item struct {
		rank string
		c    *cand
	}
	items := make([]item, len(ptrs))
	for i, c := range ptrs {
		items[i] = item{c.rank, c}
	}
	slices.SortFunc(items, func(x, y item) int {
		if !p.desc && x.rank != y.rank {
			return strings.Compare(y.rank, x.rank)
		}
		return p.compare(y.c, x.c)
	})
	for i := range items {
		ptrs[i] = items[i].c
	}
	if !byName {
		// Equal keys are adjacent (compare breaks ties by key, then tag);
		// the first of a run is the lexically greatest tag.
		out := ptrs[:0]
		for i, c := range ptrs {
			if i > 0 && c.key == out[len(out)-1].key {
				st.Duplicates++
				continue
			}
			out = append(out, c)
		}
		ptrs = out
	}
	st.Candidates = len(ptrs)
	return ptrs
}
