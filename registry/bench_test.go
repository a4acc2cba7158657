package registry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

// BenchmarkListTags lists a repository of 10,300 tags served in pages of
// 1,000 (11 requests); each call walks the pages again.
func BenchmarkListTags(b *testing.B) {
	srv := testreg.Start(b, testreg.Options{PageSize: 1000})
	tags := make([]string, 0, 10300)
	for i := range 10300 {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10))
	}
	seed(b, srv, "team/app", tags)
	c := newClient(b, srv.Target)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := c.ListTags(ctx, srv.Repo("team/app"))
		if err != nil || len(got) != len(tags) {
			b.Fatalf("%d tags, %v", len(got), err)
		}
	}
}

// BenchmarkDescribeWarm is newest-build's metadata over 300 tags after a
// restart: a new Client on a warm cache directory (300 HEADs, no GETs).
func BenchmarkDescribeWarm(b *testing.B) {
	srv := testreg.Start(b, testreg.Options{})
	tags := tagNames("sha-", 300)
	for i, tag := range tags {
		srv.PushImage(b, "team/app", created.Add(time.Duration(i)*time.Minute), tag)
	}
	cache := b.TempDir()
	ctx := context.Background()
	describeAll := func(c *registry.Client) {
		for _, tag := range tags {
			if _, err := c.Describe(ctx, srv.Repo("team/app"), tag); err != nil {
				b.Fatal(err)
			}
		}
	}
	describeAll(newClient(b, srv.Target, registry.WithCacheDir(cache)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		describeAll(newClient(b, srv.Target, registry.WithCacheDir(cache)))
	}
}
