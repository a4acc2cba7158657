package policy_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwatch/tagwatch/policy"
)

func names(ns ...string) []policy.Tag {
	tags := make([]policy.Tag, len(ns))
	for i, n := range ns {
		tags[i].Name = n
	}
	return tags
}

func mustNew(t testing.TB, spec policy.Spec) *policy.Policy {
	t.Helper()
	p, err := policy.New(spec)
	if err != nil {
		t.Fatalf("New(%+v): %v", spec, err)
	}
	return p
}

// want is the part of a Result a case pins; empty fields are not checked
// except Decision and Tag.
type want struct {
	Decision   policy.Decision
	Tag        string
	Candidates []string
	Stats      *policy.Stats
	Reason     string // substring
}

func check(t *testing.T, p *policy.Policy, tags []policy.Tag, cur policy.Current, w want) policy.Result {
	t.Helper()
	orig := slices.Clone(tags)
	res := p.Select(tags, cur)
	if diff := cmp.Diff(orig, tags); diff != "" {
		t.Errorf("Select mutated its input (-before +after):\n%s", diff)
	}
	if res.Decision != w.Decision || res.Tag != w.Tag {
		t.Errorf("got %s %q, want %s %q (reason: %s)", res.Decision, res.Tag, w.Decision, w.Tag, res.Reason)
	}
	if w.Candidates != nil {
		if diff := cmp.Diff(w.Candidates, res.Candidates); diff != "" {
			t.Errorf("candidates (-want +got):\n%s", diff)
		}
	}
	if w.Stats != nil {
		if diff := cmp.Diff(*w.Stats, res.Stats, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	}
	if !strings.Contains(res.Reason, w.Reason) {
		t.Errorf("reason %q does not say %q", res.Reason, w.Reason)
	}
	checkInvariants(t, tags, res)
	// Any input order gives the same result.
	r := rand.New(rand.NewPCG(1, uint64(len(tags))))
	for range 5 {
		shuffled := slices.Clone(tags)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if diff := cmp.Diff(res, p.Select(shuffled, cur)); diff != "" {
			t.Fatalf("result depends on input order (-first +shuffled):\n%s", diff)
		}
	}
	return res
}

func TestSelect(t *testing.T) {
	semver := func(c string) policy.Spec { return policy.Spec{Constraint: c} }
	tsRE := `^main-(?P<ts>\d+)-[0-9a-f]{7}$`
	mainTags := names("main-1700000000-abcdef1", "main-1700000100-1234567", "main-999999999-fffffff", "pr-12-1234567", "main-latest")
	cases := []struct {
		name string
		spec policy.Spec
		tags []policy.Tag
		cur  string
		want want
	}{
		// Pre-releases: rc9 > rc10 per SemVer (ASCII), rc.10 > rc.9 (numeric identifiers).
		{"rc9 beats rc10", semver(">=7.8.0-0"), names("7.8.0-rc9", "7.8.0-rc10"), "",
			want{Decision: policy.Update, Tag: "7.8.0-rc9", Candidates: []string{"7.8.0-rc9", "7.8.0-rc10"}}},
		{"rc.10 beats rc.9", semver(">=7.8.0-0"), names("7.8.0-rc.9", "7.8.0-rc.10"), "",
			want{Decision: policy.Update, Tag: "7.8.0-rc.10"}},
		{"rc9 beats rc.10", semver(">=7.8.0-0"), names("7.8.0-rc.10", "7.8.0-rc9"), "",
			want{Decision: policy.Update, Tag: "7.8.0-rc9"}},
		{"release beats its rcs", semver(">=7.8.0-0"), names("7.8.0-rc.10", "7.8.0", "7.8.0-rc9"), "7.8.0-rc9",
			want{Decision: policy.Update, Tag: "7.8.0", Reason: `"7.8.0" ranks above "7.8.0-rc9"`}},

		// Empty constraint means "*": no pre-releases, but a pinned rc is not downgraded.
		{"empty constraint skips prereleases", semver(""), names("1.0.0", "1.1.0-rc.1"), "",
			want{Decision: policy.Update, Tag: "1.0.0", Stats: &policy.Stats{Seen: 2, Candidates: 1, Filtered: map[string]int{"constraint": 1}}}},
		{"empty constraint holds a pinned rc", semver(""), names("1.0.0", "1.1.0-rc.1"), "1.1.0-rc.1",
			want{Decision: policy.Held, Tag: "1.0.0", Reason: "held"}},
		{"prerelease comparator admits rcs", semver(">=1.0.0-0"), names("1.0.0", "1.1.0-rc.1"), "1.0.0",
			want{Decision: policy.Update, Tag: "1.1.0-rc.1"}},

		// 1.24 vs 1.24.0: equal precedence; the lexically greatest spelling wins, always.
		{"loose 1.24 moves to 1.24.0 once", policy.Spec{Loose: true}, names("1.24", "1.24.0"), "1.24",
			want{Decision: policy.Update, Tag: "1.24.0"}},
		{"loose 1.24.0 stays", policy.Spec{Loose: true}, names("1.24.0", "1.24"), "1.24.0",
			want{Decision: policy.UpToDate, Tag: "1.24.0"}},
		{"strict ignores 1.24", semver(""), names("1.24", "1.24.0"), "1.24",
			want{Decision: policy.Update, Tag: "1.24.0", Reason: "cannot be ranked", Stats: &policy.Stats{Seen: 2, Unparsable: 1, Candidates: 1}}},
		{"v1.24.0 in git is not churned to 1.24.0", semver(""), names("1.24.0"), "v1.24.0",
			want{Decision: policy.Held, Tag: "1.24.0", Reason: "(same precedence, and the tie goes to the lexically greater tag)"}},
		{"build metadata tie", semver(""), names("1.0.0+b2", "1.0.0+b10", "1.0.0"), "",
			want{Decision: policy.Update, Tag: "1.0.0+b2", Candidates: []string{"1.0.0+b2", "1.0.0+b10", "1.0.0"}}},

		// Calver.
		{"calver as semver", semver(">=2026.0.0"), names("2025.12.31", "2026.01.15", "2026.02.01", "2026.1.15"), "2026.01.15",
			want{Decision: policy.Update, Tag: "2026.02.01", Candidates: []string{"2026.02.01", "2026.1.15", "2026.01.15"}}},
		{"calver alphabetical", policy.Spec{Strategy: policy.Alphabetical}, names("2025.12.31", "2026.01.15", "2026.02.01"), "",
			want{Decision: policy.Update, Tag: "2026.02.01"}},
		{"calver is not a number", policy.Spec{Strategy: policy.Numerical}, names("2026.01.15", "2026"), "",
			want{Decision: policy.Update, Tag: "2026", Stats: &policy.Stats{Seen: 2, Unparsable: 1, Candidates: 1}}},

		// main-<unix-ts>-<sha>: extract the timestamp and rank it as a number.
		{"main-ts-sha numerical", policy.Spec{Strategy: policy.Numerical, AllowTags: tsRE, Extract: "$ts"}, mainTags, "main-1700000000-abcdef1",
			want{Decision: policy.Update, Tag: "main-1700000100-1234567",
				Candidates: []string{"main-1700000100-1234567", "main-1700000000-abcdef1", "main-999999999-fffffff"},
				Stats:      &policy.Stats{Seen: 5, Filtered: map[string]int{"allowTags": 2}, Candidates: 3}}},
		{"main-ts-sha alphabetical is the trap", policy.Spec{Strategy: policy.Alphabetical, AllowTags: tsRE, Extract: "$ts"}, mainTags, "",
			want{Decision: policy.Update, Tag: "main-999999999-fffffff"}},
		{"main-ts-sha current not matching allowTags", policy.Spec{Strategy: policy.Numerical, AllowTags: tsRE, Extract: "${ts}"}, mainTags, "latest",
			want{Decision: policy.Update, Tag: "main-1700000100-1234567", Reason: "does not match allowTags"}},
		{"main-ts-sha held", policy.Spec{Strategy: policy.Numerical, AllowTags: tsRE, Extract: "$ts"}, mainTags, "main-1800000000-0000000",
			want{Decision: policy.Held, Tag: "main-1700000100-1234567"}},
		{"extracted current not a version", policy.Spec{AllowTags: `^app-(.*)$`, Extract: "$1"}, names("app-1.0.0"), "app-latest",
			want{Decision: policy.Update, Tag: "app-1.0.0", Reason: `The tag in Git, "app-latest", extracts to "latest", which is not a MAJOR.MINOR.PATCH version, so it cannot be ranked`}},

		// Keys that collide: the lexically greatest tag represents them.
		{"extracted keys collide", policy.Spec{Strategy: policy.Numerical, AllowTags: tsRE, Extract: "$ts"},
			names("main-1700000100-bbbbbbb", "main-1700000100-aaaaaaa", "main-1700000000-ccccccc"), "",
			want{Decision: policy.Update, Tag: "main-1700000100-bbbbbbb",
				Candidates: []string{"main-1700000100-bbbbbbb", "main-1700000000-ccccccc"},
				Stats:      &policy.Stats{Seen: 3, Duplicates: 1, Candidates: 2}}},
		{"semver keys collide", policy.Spec{AllowTags: `^(?:a|b)-(.*)$`, Extract: "$1"}, names("a-1.0.0", "b-1.0.0", "a-v1.0.0"), "",
			want{Decision: policy.Update, Tag: "a-v1.0.0", Candidates: []string{"a-v1.0.0", "b-1.0.0"},
				Stats: &policy.Stats{Seen: 3, Duplicates: 1, Candidates: 2}}},
		{"same tag listed twice", semver(""), names("1.0.0", "1.0.0"), "1.0.0",
			want{Decision: policy.UpToDate, Tag: "1.0.0", Stats: &policy.Stats{Seen: 2, Duplicates: 1, Candidates: 1}}},

		// Numbers: exact, any size; leading zeros do not count.
		{"leading zeros", policy.Spec{Strategy: policy.Numerical}, names("007", "7", "10", "0010"), "",
			want{Decision: policy.Update, Tag: "10", Candidates: []string{"10", "0010", "7", "007"}}},
		{"huge integers beyond float64", policy.Spec{Strategy: policy.Numerical}, names("1700000000123456790", "1700000000123456789"), "1700000000123456789",
			want{Decision: policy.Update, Tag: "1700000000123456790"}},
		{"huge beyond uint64", policy.Spec{Strategy: policy.Numerical}, names("99999999999999999999999999999999999999", "100000000000000000000000000000000000000", "-1e3"), "",
			want{Decision: policy.Update, Tag: "100000000000000000000000000000000000000", Stats: &policy.Stats{Seen: 3, Unparsable: 1, Candidates: 2}}},
		{"decimals", policy.Spec{Strategy: policy.Numerical}, names("1.5", "1.10", "-2", "+1.6", "-0"), "",
			want{Decision: policy.Update, Tag: "+1.6", Candidates: []string{"+1.6", "1.5", "1.10", "-0", "-2"}}},
		{"numerical desc", policy.Spec{Strategy: policy.Numerical, Order: "desc"}, names("3", "-1.5", "2"), "",
			want{Decision: policy.Update, Tag: "-1.5"}},
		{"huge semver segments are not versions", semver(""), names("99999999999999999999.0.0", "1.0.0"), "",
			want{Decision: policy.Update, Tag: "1.0.0", Stats: &policy.Stats{Seen: 2, Unparsable: 1, Candidates: 1}}},

		// Filters.
		{"cosign and ignore", policy.Spec{IgnoreTags: []string{"*-debug"}}, names("1.0.0", "1.1.0-debug", "sha256-abcd.sig", "1.1.0.att", "1.1.0.sbom", "sha256-ab"), "",
			want{Decision: policy.Update, Tag: "1.0.0", Stats: &policy.Stats{Seen: 6, Filtered: map[string]int{"cosign": 4, "ignoreTags": 1}, Candidates: 1}}},
		{"nothing left", semver("^3"), names("1.0.0", "latest", "x.sig"), "1.0.0",
			want{Decision: policy.None, Reason: "3 tags seen: 1 removed by cosign, 1 removed by constraint, 1 unparsable, 0 candidates"}},
		{"no tags at all", semver(""), nil, "1.0.0", want{Decision: policy.None, Reason: "no tags"}},

		// No downgrade.
		{"held", semver(""), names("1.0.0", "1.1.0"), "2.0.0",
			want{Decision: policy.Held, Tag: "1.1.0", Reason: "held"}},
		{"held outside the constraint", semver("^1"), names("1.0.0", "2.0.0"), "2.0.0",
			want{Decision: policy.Held, Tag: "1.0.0"}},
		{"downgrade allowed", policy.Spec{AllowDowngrade: true}, names("1.0.0", "1.1.0"), "2.0.0",
			want{Decision: policy.Update, Tag: "1.1.0", Reason: "allowDowngrade"}},
		{"current", semver(""), names("1.0.0", "1.1.0"), "1.1.0", want{Decision: policy.UpToDate, Tag: "1.1.0"}},
		{"git not a version", semver(""), names("1.0.0"), "latest",
			want{Decision: policy.Update, Tag: "1.0.0", Reason: "is not a MAJOR.MINOR.PATCH version"}},
		{"git empty", semver(""), names("1.0.0"), "",
			want{Decision: policy.Update, Tag: "1.0.0", Reason: "Git holds no tag yet"}},
		{"alphabetical desc", policy.Spec{Strategy: policy.Alphabetical, Order: "desc"}, names("b", "a", "c"), "b",
			want{Decision: policy.Update, Tag: "a", Candidates: []string{"a", "b", "c"}, Reason: "smallest first"}},
		{"alphabetical desc held", policy.Spec{Strategy: policy.Alphabetical, Order: "desc"}, names("b", "a", "c"), "0",
			want{Decision: policy.Held, Tag: "a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, mustNew(t, tc.spec), tc.tags, policy.Current{Tag: tc.cur}, tc.want)
		})
	}
}

func TestSelectNewestBuild(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	tags := []policy.Tag{
		{Name: "a", Created: at(1)},
		{Name: "b", Platforms: []policy.Platform{{"linux/amd64", at(2)}, {"linux/arm64/v8", at(5)}}},
		{Name: "c", Platforms: []policy.Platform{{"linux/amd64", at(3)}}},
		{Name: "d", Created: at(3), Platforms: []policy.Platform{{"linux/amd64", at(3)}}},
		{Name: "e"}, // no metadata
	}
	nb := policy.Spec{Strategy: policy.NewestBuild}
	cases := []struct {
		name string
		spec policy.Spec
		cur  string
		want want
	}{
		{"newest of any platform", nb, "a",
			want{Decision: policy.Update, Tag: "b", Candidates: []string{"b", "d", "c", "a"}, Stats: &policy.Stats{Seen: 5, Unparsable: 1, Candidates: 4}}},
		{"amd64 only: tie goes to the greatest tag", policy.Spec{Strategy: policy.NewestBuild, Platforms: []string{"linux/amd64"}}, "",
			want{Decision: policy.Update, Tag: "d", Candidates: []string{"d", "c", "b"}, Stats: &policy.Stats{Seen: 5, Filtered: map[string]int{"platforms": 2}, Candidates: 3}}},
		{"arm64 any variant", policy.Spec{Strategy: policy.NewestBuild, Platforms: []string{"linux/arm64"}}, "b",
			want{Decision: policy.UpToDate, Tag: "b"}},
		{"arm64 wrong variant", policy.Spec{Strategy: policy.NewestBuild, Platforms: []string{"linux/arm64/v7"}}, "",
			want{Decision: policy.None, Stats: &policy.Stats{Seen: 5, Filtered: map[string]int{"platforms": 5}}}},
		{"current filtered but known", policy.Spec{Strategy: policy.NewestBuild, IgnoreTags: []string{"b"}}, "b",
			want{Decision: policy.Held, Tag: "d"}},
		{"current unknown", nb, "zzz",
			want{Decision: policy.Update, Tag: "b", Reason: "no known build time"}},
		{"semver with platforms", policy.Spec{Platforms: []string{"linux/arm64"}}, "",
			want{Decision: policy.None, Stats: &policy.Stats{Seen: 5, Filtered: map[string]int{"platforms": 4}, Unparsable: 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, mustNew(t, tc.spec), tags, policy.Current{Tag: tc.cur}, tc.want)
		})
	}
}

func TestSelectDigest(t *testing.T) {
	const a, b = "sha256:aaaa", "sha256:bbbb"
	tags := []policy.Tag{{Name: "latest", Digest: b}, {Name: "v1", Digest: a}, {Name: "latest.sig", Digest: a}}
	p := mustNew(t, policy.Spec{Strategy: policy.Digest, Constraint: "latest"})
	if !p.NeedsDigest() || p.NeedsMetadata() {
		t.Errorf("NeedsDigest = %v, NeedsMetadata = %v", p.NeedsDigest(), p.NeedsMetadata())
	}
	for _, tc := range []struct {
		cur  policy.Current
		want want
	}{
		{policy.Current{}, want{Decision: policy.Update, Tag: "latest", Reason: "no digest yet"}},
		{policy.Current{Tag: "latest", Digest: a}, want{Decision: policy.Update, Tag: "latest", Reason: "changed from sha256:aaaa to sha256:bbbb",
			Stats: &policy.Stats{Seen: 3, Filtered: map[string]int{"cosign": 1, "digest-tag": 1}, Candidates: 1}}},
		{policy.Current{Tag: "latest", Digest: b}, want{Decision: policy.UpToDate, Tag: "latest"}},
	} {
		res := check(t, p, tags, tc.cur, tc.want)
		if res.Digest != b {
			t.Errorf("digest = %q", res.Digest)
		}
	}
	check(t, p, []policy.Tag{{Name: "latest"}}, policy.Current{}, want{Decision: policy.None, Reason: "1 unparsable"})
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		spec policy.Spec
		want string // error text prefix
	}{
		{policy.Spec{Strategy: "newest"}, `strategy "newest": not one of`},
		{policy.Spec{Constraint: "latest"}, `constraint "latest": `},
		{policy.Spec{Constraint: "*-*"}, `constraint "*-*": `},
		{policy.Spec{Strategy: policy.Digest}, `constraint "": the digest strategy needs the tag to follow`},
		{policy.Spec{Strategy: policy.Digest, Constraint: "a b"}, `constraint "a b": not a valid tag`},
		{policy.Spec{Strategy: policy.Alphabetical, Constraint: "^1"}, `constraint "^1": only semver and digest`},
		{policy.Spec{AllowTags: "[="}, `allowTags "[=": error parsing regexp`},
		{policy.Spec{IgnoreTags: []string{"ok-*", "[a-"}}, `ignoreTags[1] "[a-": syntax error in pattern`},
		{policy.Spec{Extract: "$1"}, `extract "$1": needs allowTags`},
		{policy.Spec{AllowTags: "(a)", Extract: "$2"}, `extract "$2": group 2 does not exist: allowTags has 1 groups`},
		{policy.Spec{AllowTags: "(a)", Extract: "$1x"}, `extract "$1x": group "1x" does not exist (write ${1}x`},
		{policy.Spec{AllowTags: "(?P<v>a)", Extract: "$version"}, `extract "$version": group "version" does not exist`},
		{policy.Spec{AllowTags: "(a)", Extract: "v"}, `extract "v": references no group`},
		{policy.Spec{AllowTags: "(a)", Extract: "${1"}, `extract "${1": unterminated ${`},
		{policy.Spec{AllowTags: "(a)", Extract: "$1$"}, `extract "$1$": a trailing $`},
		{policy.Spec{AllowTags: "(a)", Extract: "$-"}, `extract "$-": $ at offset 0`},
		{policy.Spec{AllowTags: "(a)", Extract: "${a-b}"}, `extract "${a-b}": ${a-b} is not a group reference`},
		{policy.Spec{Strategy: policy.NewestBuild, AllowTags: "(a)", Extract: "$1"}, `extract "$1": only semver, alphabetical and numerical`},
		{policy.Spec{ArgoCompat: true, AllowTags: "regexp:[", Extract: "$1"}, `extract "$1": needs allowTags`},
		{policy.Spec{Order: "up"}, `order "up": not one of asc, desc`},
		{policy.Spec{Order: "desc"}, `order "desc": only alphabetical and numerical`},
		{policy.Spec{Platforms: []string{"linux/amd64", "linux"}}, `platforms[1] "linux": not os/arch`},
		{policy.Spec{Platforms: []string{"Linux/AMD64"}}, `platforms[0] "Linux/AMD64"`},
		{policy.Spec{IgnoreTags: []string{"^v.*$"}}, `ignoreTags[0] "^v.*$": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:^v.*$" to use it as a regular expression, or the glob "v*"`},
		{policy.Spec{IgnoreTags: []string{`^.*\.sig$`}}, `ignoreTags[0] "^.*\\.sig$": ignoreTags are globs`},
		{policy.Spec{IgnoreTags: []string{`-debug$`}}, `ignoreTags[0] "-debug$": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:-debug$" to use it as a regular expression, or the glob "*-debug"`},
		{policy.Spec{IgnoreTags: []string{`^v[0-9]+`}}, `ignoreTags[0] "^v[0-9]+": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:^v[0-9]+" to use it as a regular expression`},
		{policy.Spec{IgnoreTags: []string{"regexp:("}}, `ignoreTags[0] "regexp:(": error parsing regexp`},
	}
	for _, tc := range cases {
		_, err := policy.New(tc.spec)
		if !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want an ErrInvalid", tc.spec, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %q, want prefix %q", tc.spec, err, tc.want)
		}
		var fe *policy.FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Errorf("New(%+v): %v is not a FieldError", tc.spec, err)
		}
	}
}

// TestNewReportsEveryProblem: one bad field does not hide the others of
// the same spec (issue 15, point 7).
func TestNewReportsEveryProblem(t *testing.T) {
	_, err := policy.New(policy.Spec{
		Strategy: "latest", AllowTags: "(", Extract: "$1", IgnoreTags: []string{"ok", "^v"},
		Order: "up", Platforms: []string{"linux"},
	})
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *policy.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		got = append(got, fe.Field)
	}
	// extract is not judged while allowTags, whose groups it names, is broken.
	want := []string{"strategy", "allowTags", "ignoreTags[1]", "platforms[0]", "order"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if !errors.Is(err, policy.ErrInvalid) {
		t.Errorf("%v does not match ErrInvalid", err)
	}
}

// TestIgnoreTagsRegexp: "regexp:" entries are RE2 expressions, unanchored;
// globs stay globs.
func TestIgnoreTagsRegexp(t *testing.T) {
	p := mustNew(t, policy.Spec{IgnoreTags: []string{`regexp:^v\d+\.\d+\.\d+-(debug|test)$`, "regexp:rc", "*-old"}})
	res := p.Select(names("v1.0.0", "v1.1.0-debug", "v1.2.0-test", "v1.3.0-rc.1", "v1.4.0-old", "v1.0.1"), policy.Current{})
	if diff := cmp.Diff([]string{"v1.0.1", "v1.0.0"}, res.Candidates); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
	if res.Stats.Filtered[policy.RuleIgnoreTags] != 4 {
		t.Errorf("ignoreTags removed %d, want 4", res.Stats.Filtered[policy.RuleIgnoreTags])
	}
}

func TestNewValid(t *testing.T) {
	for _, spec := range []policy.Spec{
		{},
		{Strategy: policy.Semver, Constraint: " ", Loose: true},
		{Constraint: "^1.2 || >=3.0.0-0"},
		{AllowTags: `^v(?P<version>.*)$`, Extract: "$version"},
		{AllowTags: `^(\d+)-(\d+)$`, Extract: "${1}.${2}.0$$"},
		{Strategy: policy.Numerical, Order: "desc"},
		{Strategy: policy.Alphabetical, Order: "asc", IgnoreTags: []string{"*", "[a-z]?", `\*`}},
		{Strategy: policy.NewestBuild, Platforms: []string{"linux/amd64", "linux/arm64/v8", "windows/amd64"}},
		{Strategy: policy.Digest, Constraint: "latest"},
		{ArgoCompat: true, AllowTags: "regexp:[", Strategy: policy.NewestBuild, Constraint: "ignored-*"},
	} {
		p, err := policy.New(spec)
		if err != nil {
			t.Errorf("New(%+v): %v", spec, err)
			continue
		}
		if got := p.Spec().Strategy; got == "" {
			t.Errorf("Spec().Strategy not defaulted")
		}
	}
}

// TestSpecIsCopied: changing the caller's slices after New changes nothing.
func TestSpecIsCopied(t *testing.T) {
	ignore := []string{"x"}
	p := mustNew(t, policy.Spec{IgnoreTags: ignore})
	ignore[0] = "*"
	if res := p.Select(names("1.0.0"), policy.Current{}); res.Tag != "1.0.0" {
		t.Errorf("policy changed with the caller's slice: %+v", res)
	}
	p.Spec().IgnoreTags[0] = "*"
	if res := p.Select(names("1.0.0"), policy.Current{}); res.Tag != "1.0.0" {
		t.Errorf("policy changed through Spec(): %+v", res)
	}
}

func TestFilterNames(t *testing.T) {
	p := mustNew(t, policy.Spec{AllowTags: `^v`, IgnoreTags: []string{"*-rc*"}})
	in := []string{"v2", "v1.sig", "x1", "v1-rc1", "v1"}
	got := p.FilterNames(in)
	if diff := cmp.Diff([]string{"v2", "v1"}, got); diff != "" {
		t.Errorf("FilterNames (-want +got):\n%s", diff)
	}
	if in[0] != "v2" || len(in) != 5 {
		t.Errorf("input changed: %q", in)
	}
	if p.NeedsMetadata() || p.NeedsDigest() {
		t.Error("semver needs neither metadata nor digests")
	}
	if !mustNew(t, policy.Spec{Platforms: []string{"linux/amd64"}}).NeedsMetadata() {
		t.Error("a platforms filter needs metadata")
	}
}

func TestArgoAllowTags(t *testing.T) {
	for _, tc := range []struct {
		allow string
		want  []string
	}{
		{"", []string{"a1", "b2"}},
		{"any", []string{"a1", "b2"}},
		{"regexp:^a", []string{"a1"}},
		{"regexp:[", nil},
		{"^a", nil}, // not Argo syntax: matches nothing
	} {
		p := mustNew(t, policy.Spec{Strategy: policy.Alphabetical, ArgoCompat: true, AllowTags: tc.allow})
		if diff := cmp.Diff(tc.want, p.FilterNames([]string{"a1", "b2"})); diff != "" {
			t.Errorf("allowTags %q (-want +got):\n%s", tc.allow, diff)
		}
	}
}

// TestDeterministicMixes shuffles generated mixes under every strategy.
func TestDeterministicMixes(t *testing.T) {
	specs := []policy.Spec{
		{Constraint: ">=1.0.0-0"},
		{Loose: true},
		{Strategy: policy.Alphabetical, Order: "desc"},
		{Strategy: policy.Numerical},
		{Strategy: policy.Numerical, AllowTags: `^main-(\d+)-`, Extract: "$1"},
		{Strategy: policy.NewestBuild},
	}
	tags := mix(2000, 7)
	for _, spec := range specs {
		p := mustNew(t, spec)
		check(t, p, tags, policy.Current{Tag: "1.2.3"}, want{
			Decision: p.Select(tags, policy.Current{Tag: "1.2.3"}).Decision,
			Tag:      p.Select(tags, policy.Current{Tag: "1.2.3"}).Tag,
		})
	}
}

// TestLargeInput exercises the parallel collection (from 16,384 tags): the
// result equals that of the same tags in any order, and stats add up.
func TestLargeInput(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	tags := mix(20_000, 3)
	for _, spec := range []policy.Spec{
		{Constraint: ">=1.0.0 <4.0.0 || >=5.0.0-0"},
		{Strategy: policy.Numerical, AllowTags: `^main-(\d+)-`, Extract: "$1"},
	} {
		p := mustNew(t, spec)
		res := p.Select(tags, policy.Current{})
		check(t, p, tags, policy.Current{}, want{Decision: res.Decision, Tag: res.Tag, Candidates: res.Candidates})
		half := p.Select(tags[:10_000], policy.Current{})
		other := p.Select(tags[10_000:], policy.Current{})
		if got := half.Stats.Unparsable + other.Stats.Unparsable; got != res.Stats.Unparsable {
			t.Errorf("%+v: unparsable %d, halves say %d", spec, res.Stats.Unparsable, got)
		}
	}
}

func TestString(t *testing.T) {
	for spec, want := range map[*policy.Spec]string{
		{}:                              `semver "*"`,
		{Constraint: "^1", Loose: true}: `semver "^1" (loose)`,
		{Strategy: policy.Numerical}:    "numerical order",
		{Strategy: policy.Alphabetical, Order: "desc"}:                     "alphabetical order (smallest first)",
		{Strategy: policy.Digest, Constraint: "latest"}:                    `digest of "latest"`,
		{Strategy: policy.NewestBuild, Platforms: []string{"linux/amd64"}}: "newest-build (linux/amd64)",
	} {
		if got := mustNew(t, *spec).String(); got != want {
			t.Errorf("%+v: String() = %q, want %q", *spec, got, want)
		}
	}
}

// TestRanking: one Ranking decides for any number of values in Git, from
// any number of goroutines, as Select would for each: deciding leaves the
// ranking as it was, and a Result the caller changes is its own.
func TestRanking(t *testing.T) {
	tags := mix(3000, 11)
	currents := []policy.Current{{}, {Tag: "1.2.3"}, {Tag: "v5.59.99"}, {Tag: "latest"}, {Tag: "main-1700000000-abc"},
		{Tag: "99.0.0"}, {Tag: "sha256-" + strings.Repeat("a", 64) + ".sig"}, {Tag: "0.0.1", Digest: "sha256:aaaa"}}
	for _, spec := range []policy.Spec{
		{Constraint: ">=1.0.0-0"},
		{Constraint: "^3", AllowDowngrade: true},
		{Strategy: policy.Numerical, AllowTags: `^main-(\d+)-`, Extract: "$1"},
		{Strategy: policy.NewestBuild, IgnoreTags: []string{"main-*"}},
		{Strategy: policy.Alphabetical, Order: "desc"},
	} {
		p := mustNew(t, spec)
		orig := slices.Clone(tags)
		r := p.Rank(tags)
		want := make([]policy.Result, len(currents))
		for i, cur := range currents {
			want[i] = p.Select(slices.Clone(tags), cur)
		}
		errs := make(chan string, 4*len(currents))
		for range 4 {
			go func() {
				for i, cur := range currents {
					got := r.Decide(cur)
					if diff := cmp.Diff(want[i], got); diff != "" {
						errs <- spec.Constraint + " " + cur.Tag + ": " + diff
					} else {
						errs <- ""
					}
					// The caller's to change.
					if len(got.Candidates) > 0 {
						got.Candidates[0] = "changed"
					}
					if got.Stats.Filtered != nil {
						got.Stats.Filtered["changed"] = 1
					}
				}
			}()
		}
		for range 4 * len(currents) {
			if e := <-errs; e != "" {
				t.Errorf("%+v: Decide differs from Select (-want +got):\n%s", spec, e)
			}
		}
		if diff := cmp.Diff(orig, tags); diff != "" {
			t.Errorf("%+v: Rank changed its input (-before +after):\n%s", spec, diff)
		}
	}
}
