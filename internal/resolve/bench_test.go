package resolve_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/registry"
)

// BenchmarkCandidatesSemver: one cycle of a semver image with 10,300 tags
// (11 pages of 1,000) through list, name filters and selection.
func BenchmarkCandidatesSemver(b *testing.B) {
	srv := testreg.Start(b, testreg.Options{PageSize: 1000})
	tags := make([]string, 0, 10299)
	for i := 1; i < 10300; i++ {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10))
	}
	srv.PushImage(b, "team/app", t0, "0.0.0")
	srv.Tag(b, "team/app", "0.0.0", tags...)
	c, err := registry.New(registry.WithKeychain(anonymous{}), registry.WithHosts(registry.Host{Prefix: srv.Prefix(), RateLimit: 1000}))
	if err != nil {
		b.Fatal(err)
	}
	pol, err := policy.New(policy.Spec{Constraint: "^10", IgnoreTags: []string{"*-debug"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cands, err := resolve.Candidates(ctx, c, pol, srv.Repo("team/app"))
		if err != nil {
			b.Fatal(err)
		}
		if res := pol.Select(cands, policy.Current{}); res.Tag != "10.29.9" {
			b.Fatalf("picked %q", res.Tag)
		}
	}
}
