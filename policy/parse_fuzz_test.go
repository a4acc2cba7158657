package policy

import (
	"math/big"
	"path"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// Seeds: the tags of the trap tables and of flux.yaml's parse tables.
var seedVersions = []string{
	"1.2.3", "v1.2.3", "1.2", "1", "v1.0", "7.8.0-rc9", "7.8.0-rc.10", "1.0.0+b1", "1.24", "1.24.0",
	"2026.01.15", "v2025.07.03", "v1.2.0-x.Y.0+metadata", "v1.2.3-rc1-with-hypen", "1.0.0.1", "1.0.0p",
	"v1.2.beta", "v1.2-5", "\nv1.2", "v1.2.3.4", "99999999999999999999.0.0", "1.2.3-", "1.2.3+", "01.02.03-01",
	"18446744073709551615.0.0", "18446744073709551616.0.0", "v", "", ".1.2", "1..2", "1.2.3-alpine",
}

var seedNumbers = []string{"0", "1a", "b", "007", "7", "-0", "+1.6", "1.10", "1.5", "-62",
	"1700000000123456789", "99999999999999999999999999999999999999", "-1e3", ".5", "5.", "-", "1.2.3", "0x10", "NaN", "Inf"}

// FuzzParseSemver: what we accept, the semver package accepts as the same
// version (ours is stricter); what it accepts strictly, we accept.
func FuzzParseSemver(f *testing.F) {
	for _, s := range seedVersions {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, tag string, loose bool) {
		v := parseSemver(tag, loose)
		st, ok := scanSemver(tag, loose)
		if valid := ok && st.valid(); valid != (v != nil) {
			t.Fatalf("scanSemver(%q): valid = %v, but the semver package parses it as %v", tag, valid, v)
		}
		if v != nil {
			ref, err := semver.NewVersion(tag)
			if err != nil {
				t.Fatalf("parseSemver(%q) = %v, semver.NewVersion fails: %v", tag, v, err)
			}
			if ref.Compare(v) != 0 || ref.Metadata() != v.Metadata() {
				t.Fatalf("parseSemver(%q) = %v, semver.NewVersion = %v", tag, v, ref)
			}
		}
		if strict, err := semver.StrictNewVersion(tag); err == nil {
			if v == nil || strict.Compare(v) != 0 {
				t.Fatalf("parseSemver(%q) = %v, StrictNewVersion = %v", tag, v, strict)
			}
		}
	})
}

// FuzzParseDecimal: our exact comparison agrees with math/big.
func FuzzParseDecimal(f *testing.F) {
	for i, a := range seedNumbers {
		f.Add(a, seedNumbers[(i+1)%len(seedNumbers)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, okA := parseDecimal(a)
		db, okB := parseDecimal(b)
		if !okA || !okB {
			return
		}
		ra, ok1 := new(big.Rat).SetString(a)
		rb, ok2 := new(big.Rat).SetString(b)
		if !ok1 || !ok2 {
			t.Fatalf("accepted %q, %q that math/big rejects", a, b)
		}
		if got, want := da.cmp(db), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%q, %q) = %d, math/big says %d", a, b, got, want)
		}
		if got, want := strings.Compare(da.encode(), db.encode()), ra.Cmp(rb); got != want {
			t.Fatalf("encoded %q, %q compare %d, math/big says %d", a, b, got, want)
		}
	})
}

// FuzzTemplate: a template New accepts expands exactly as regexp.Expand.
func FuzzTemplate(f *testing.F) {
	for _, s := range [][3]string{
		{`^main-(?P<ts>\d+)-[0-9a-f]{7}$`, "$ts", "main-1700000000-abcdef1"},
		{`ver(\d+)`, "$1", "ver12"},
		{`^(\d+)-(\d+)$`, "${1}.${2}.0$$", "1-2"},
		{`(a)`, "$1x", "a"},
		{`(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+[^-debug])`, "$tag", "123-123.123.abcd123-debug"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, re, tmpl, tag string) {
		p, err := New(Spec{Strategy: Alphabetical, AllowTags: re, Extract: tmpl})
		if err != nil {
			return
		}
		key, ok := p.Key(tag)
		m := []int{0, len(tag)} // no allowTags: every tag matches whole
		if p.allowRE != nil {
			m = p.allowRE.FindStringSubmatchIndex(tag)
		}
		if ok != (m != nil && !isCosign(tag)) {
			t.Fatalf("Key(%q) ok = %v, match = %v", tag, ok, m)
		}
		if ok {
			want := tag // no template: the key is the tag
			if tmpl != "" {
				want = string(p.allowRE.ExpandString(nil, tmpl, tag, m))
			}
			if key != want {
				t.Fatalf("Key(%q) = %q, want %q", tag, key, want)
			}
		}
	})
}

// FuzzPreComparator: skipping the check of pre-releases when the constraint
// has no pre-release comparator never changes the outcome.
func FuzzPreComparator(f *testing.F) {
	for i, c := range []string{">=1.0.0-0", "^1", "2.x-0", "1.0.0 - 2.0.0", "1.0.0-rc.1 - 2", "*", "~1.2.3-beta", ">=1.0.0 <2.0.0 || ^3.0.0-0", "!=1.2.3-rc.1"} {
		f.Add(c, seedVersions[i%len(seedVersions)])
		f.Add(c, "1.5.0-rc.1")
	}
	f.Fuzz(func(t *testing.T, constraint, version string) {
		cs, err := semver.NewConstraint(constraint)
		if err != nil {
			return
		}
		v, err := semver.NewVersion(version)
		if err != nil || v.Prerelease() == "" {
			return
		}
		if !hasPreComparator(constraint) && cs.Check(v) {
			t.Fatalf("%q admits pre-release %q, but hasPreComparator says it cannot", constraint, version)
		}
	})
}

// FuzzGlob: the string-function shapes of ignoreTags agree with path.Match.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"*-debug", "1.0-debug"}, {"tag?", "tag1"}, {"*", "a/b"}, {"latest", "latest"},
		{"main-*", "main-1"}, {"*rc*", "1.0-rc1"}, {"**", "x"}, {"*a*", "b/a"}, {"\\*", "*"}, {"[a-]", "-"}, {"a*", "a/b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, tag string) {
		want, err := path.Match(pattern, tag)
		if err != nil {
			return
		}
		if got := compileGlob(pattern).match(tag); got != want {
			t.Fatalf("glob %q on %q = %v, path.Match says %v", pattern, tag, got, want)
		}
	})
}
