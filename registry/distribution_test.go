package registry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

// TestDistribution runs the client against CNCF distribution 2.8 with TLS
// (self-signed CA given as caFile) and htpasswd auth: list, describe an
// image and an index, digest, promote, and a wrong password.
func TestDistribution(t *testing.T) {
	tg := testreg.StartDistribution(t, testreg.DistributionOptions{TLS: true, Auth: true})
	imgDigest := tg.PushImage(t, "team/app", created, "1.0.0", "1.1.0-rc.1")
	idxDigest := tg.PushIndex(t, "team/app", created, []string{"linux/amd64", "linux/arm64"}, "1.1.0")
	repo := tg.Repo("team/app")
	ctx := context.Background()

	c, err := registry.New(registry.WithKeychain(emptyKeychain{}), registry.WithCacheDir(t.TempDir()),
		registry.WithHosts(registry.Host{Prefix: tg.Prefix(), CAFile: tg.CAFile, Credentials: tg.CredentialsFile(t)}))
	if err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTags(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags) // distribution lists in storage order
	if diff := cmp.Diff([]string{"1.0.0", "1.1.0", "1.1.0-rc.1"}, tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	m, err := c.Describe(ctx, repo, "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	want := registry.Meta{Digest: idxDigest, Created: created.Add(time.Minute), Platforms: []registry.Platform{
		{"linux/amd64", created}, {"linux/arm64", created.Add(time.Minute)}}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	if d, err := c.Digest(ctx, repo, "1.0.0"); err != nil || d != imgDigest {
		t.Errorf("Digest = %q, %v; want %q", d, err, imgDigest)
	}

	if d, err := c.Retag(ctx, repo+":1.1.0-rc.1", "1.1.1", "stable"); err != nil || d != imgDigest {
		t.Fatalf("Retag = %q, %v", d, err)
	}
	tags, err = c.ListTags(ctx, repo)
	if err != nil || !slices.Contains(tags, "stable") || !slices.Contains(tags, "1.1.1") {
		t.Errorf("after promote: %q, %v", tags, err)
	}
	if d, err := c.Digest(ctx, repo, "stable"); err != nil || d != imgDigest {
		t.Errorf("Digest(stable) = %q, %v; want %q", d, err, imgDigest)
	}

	anon, err := registry.New(registry.WithKeychain(emptyKeychain{}), registry.WithRetry(1, 0),
		registry.WithHosts(registry.Host{Prefix: tg.Prefix(), CAFile: tg.CAFile}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.ListTags(ctx, repo); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("anonymous: err = %v, want ErrUnauthorized", err)
	}
}
