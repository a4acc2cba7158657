package policy_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/policy"
)

// mix returns n tags the way a busy repository with that many tags lists
// them: mostly CI builds (70% main-<unix-ts>-<sha>, 8% sha-<hex>, 6%
// pr-<n>-<sha>), 5% cosign signatures, 4% releases across majors 0-5 with
// and without "v", 5% pre-releases and variants (1.2.3-rc.4,
// 1.2.3-alpine) and 2% odd names, with build times.
func mix(n int, seed uint64) []policy.Tag {
	r := rand.New(rand.NewPCG(seed, 42))
	hex := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = "0123456789abcdef"[r.IntN(16)]
		}
		return string(b)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tags := make([]policy.Tag, n)
	for i := range tags {
		var name string
		switch k := r.IntN(100); {
		case k < 70:
			name = fmt.Sprintf("main-%d-%s", 1700000000+i*37, hex(7))
		case k < 78:
			name = "sha-" + hex(12)
		case k < 84:
			name = fmt.Sprintf("pr-%d-%s", r.IntN(5000), hex(7))
		case k < 89:
			name = "sha256-" + hex(64) + ".sig"
		case k < 93:
			v := ""
			if r.IntN(2) == 0 {
				v = "v"
			}
			name = fmt.Sprintf("%s%d.%d.%d", v, r.IntN(6), r.IntN(60), r.IntN(100))
		case k < 95:
			name = fmt.Sprintf("%d.%d.%d-rc.%d", r.IntN(6), r.IntN(60), r.IntN(100), r.IntN(12))
		case k < 98:
			name = fmt.Sprintf("%d.%d.%d-alpine", r.IntN(6), r.IntN(60), r.IntN(100))
		default:
			name = []string{"latest", "stable", "1.2", "2026.01.15", "edge", "dev"}[r.IntN(6)]
		}
		tags[i] = policy.Tag{Name: name, Created: base.Add(time.Duration(r.IntN(1e6)) * time.Second)}
	}
	return tags
}

// releases returns n distinct release versions: the worst case for semver,
// every tag parsed and checked against the constraint, and the semver
// package formats an error for each one the constraint rejects.
func releases(n int) []policy.Tag {
	tags := make([]policy.Tag, n)
	for i := range tags {
		tags[i].Name = fmt.Sprintf("%d.%d.%d", i/10000, i/100%100, i%100)
	}
	return tags
}

func benchSelect(b *testing.B, spec policy.Spec, tags []policy.Tag) {
	p, err := policy.New(spec)
	if err != nil {
		b.Fatal(err)
	}
	cur := policy.Current{Tag: "1.0.0"}
	var res policy.Result
	b.ReportAllocs()
	for b.Loop() {
		res = p.Select(tags, cur)
	}
	b.ReportMetric(float64(res.Stats.Candidates), "candidates")
}

func BenchmarkSelectSemver100k(b *testing.B) {
	benchSelect(b, policy.Spec{Constraint: ">=1.0.0 <2.0.0"}, mix(100_000, 1))
}

func BenchmarkSelectSemverPrerelease100k(b *testing.B) {
	benchSelect(b, policy.Spec{Constraint: "^1.x-0 || ^3.x-0"}, mix(100_000, 1))
}

func BenchmarkSelectSemverAny100k(b *testing.B) {
	benchSelect(b, policy.Spec{}, mix(100_000, 1))
}

func BenchmarkSelectSemverAllReleases100k(b *testing.B) {
	benchSelect(b, policy.Spec{Constraint: "^3.5"}, releases(100_000))
}

func BenchmarkSelectAlphabetical100k(b *testing.B) {
	benchSelect(b, policy.Spec{Strategy: policy.Alphabetical}, mix(100_000, 1))
}

func BenchmarkSelectNumerical100k(b *testing.B) {
	tags := make([]policy.Tag, 100_000)
	for i := range tags {
		tags[i].Name = fmt.Sprint(1700000000 + (i*7919)%100_000)
	}
	benchSelect(b, policy.Spec{Strategy: policy.Numerical}, tags)
}

func BenchmarkSelectExtractNumerical100k(b *testing.B) {
	benchSelect(b, policy.Spec{Strategy: policy.Numerical, AllowTags: `^main-(?P<ts>\d+)-[0-9a-f]{7}$`, Extract: "$ts"}, mix(100_000, 1))
}

func BenchmarkSelectNewestBuild100k(b *testing.B) {
	benchSelect(b, policy.Spec{Strategy: policy.NewestBuild, AllowTags: `^main-`}, mix(100_000, 1))
}

func BenchmarkFilterNames100k(b *testing.B) {
	p, err := policy.New(policy.Spec{AllowTags: `^v?\d+\.\d+\.\d+$`, IgnoreTags: []string{"*-debug"}})
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for _, t := range mix(100_000, 1) {
		names = append(names, t.Name)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.FilterNames(names)
	}
}
