package policy_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tagwatch/tagwatch/policy"
)

// seedTags are the tag lists of the conformance vectors, one list a seed.
func seedTags(f *testing.F) []string {
	var seeds []string
	var flux fluxFile
	var argo argoFile
	for name, v := range map[string]any{"flux.yaml": &flux, "argocd-image-updater.yaml": &argo} {
		data, err := os.ReadFile("testdata/conformance/" + name)
		if err != nil {
			f.Fatal(err)
		}
		if err := yaml.Unmarshal(data, v); err != nil {
			f.Fatal(err)
		}
	}
	for _, c := range slices.Concat(flux.Semver, flux.Alphabetical, flux.Numerical, flux.FilterOnly, flux.FilterAndPolicy) {
		seeds = append(seeds, strings.Join(c.Tags, "\n"))
	}
	for _, c := range argo.Cases {
		var ns []string
		for _, t := range c.Tags {
			ns = append(ns, t.Name)
		}
		seeds = append(seeds, strings.Join(ns, "\n"))
	}
	return seeds
}

// FuzzNew builds policies from arbitrary fields: New never panics, and a
// policy it accepts selects from arbitrary tags without panicking,
// accounts for every tag and does not depend on the input order.
func FuzzNew(f *testing.F) {
	strategies := []string{"semver", "alphabetical", "numerical", "newest-build", "digest", ""}
	for i, tags := range seedTags(f) {
		f.Add(strategies[i%len(strategies)], []string{"", ">=1.0.0-0", "^1", "1.0.x", "latest", "*-*"}[i%6],
			[]string{"", `^v?(\d+)`, "regexp:^a", "[="}[i%4], []string{"", "$1", "${1}", "$x"}[i%4],
			[]string{"", "*-debug", "[", "tag?"}[i%4], []string{"", "asc", "desc"}[i%3],
			[]string{"", "linux/amd64", "linux/arm64/v8", "linux"}[i%4], i%2 == 0, tags, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, strategy, constraint, allow, extract, ignore, order, platform string, argo bool, tagList, cur string) {
		spec := policy.Spec{
			Strategy: policy.Strategy(strategy), Constraint: constraint, AllowTags: allow, ArgoCompat: argo,
			Extract: extract, Order: order, Loose: argo,
		}
		if ignore != "" {
			spec.IgnoreTags = []string{ignore}
		}
		if platform != "" {
			spec.Platforms = []string{platform}
		}
		p, err := policy.New(spec)
		if err != nil {
			return
		}
		var tags []policy.Tag
		for i, n := range strings.Split(tagList, "\n") {
			tags = append(tags, policy.Tag{Name: n, Digest: "sha256:" + strings.Repeat("a", i%3),
				Created:   time.Unix(int64(i%4), 0),
				Platforms: []policy.Platform{{Platform: []string{"linux/amd64", "linux/arm64/v8"}[i%2], Created: time.Unix(int64(i%5), 0)}}})
		}
		res := p.Select(tags, policy.Current{Tag: cur})
		checkInvariants(t, tags, res)
		rev := slices.Clone(tags)
		slices.Reverse(rev)
		if again := p.Select(rev, policy.Current{Tag: cur}); again.Tag != res.Tag || again.Decision != res.Decision || !slices.Equal(again.Candidates, res.Candidates) {
			t.Fatalf("order changes the result: %+v then %+v", res, again)
		}
	})
}
