package resolve_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/registry"
)

type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func client(t *testing.T, srv *testreg.Server) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.WithKeychain(anonymous{}), registry.WithRetry(1, 0),
		registry.WithHosts(registry.Host{Prefix: srv.Prefix(), RateLimit: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPolicy(t *testing.T, spec policy.Spec) *policy.Policy {
	t.Helper()
	p, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCandidates(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	repo := srv.Repo("team/app")
	d1 := srv.PushImage(t, "team/app", t0, "1.0.0", "latest")
	d2 := srv.PushIndex(t, "team/app", t0.Add(time.Hour), []string{"linux/amd64", "linux/arm64"}, "1.1.0")
	d3 := srv.PushImage(t, "team/app", t0.Add(2*time.Hour), "sha-abc", "1.2.0-debug")

	amd64 := func(d time.Duration) []policy.Platform {
		return []policy.Platform{{Platform: "linux/amd64", Created: t0.Add(d)}}
	}
	for _, tc := range []struct {
		name     string
		spec     policy.Spec
		want     []policy.Tag
		requests map[string]int // method+kind → count at the registry
	}{
		{
			name:     "semver needs names only",
			spec:     policy.Spec{Strategy: policy.Semver, IgnoreTags: []string{"*-debug"}},
			want:     []policy.Tag{{Name: "1.0.0"}, {Name: "1.1.0"}, {Name: "latest"}, {Name: "sha-abc"}},
			requests: map[string]int{"GET /tags/list": 1},
		},
		{
			name: "newest-build describes survivors only",
			spec: policy.Spec{Strategy: policy.NewestBuild, AllowTags: `^\d+\.\d+\.\d+$`},
			want: []policy.Tag{
				{Name: "1.0.0", Digest: d1, Created: t0, Platforms: amd64(0)},
				{Name: "1.1.0", Digest: d2, Created: t0.Add(time.Hour + time.Minute), Platforms: []policy.Platform{
					{Platform: "linux/amd64", Created: t0.Add(time.Hour)}, {Platform: "linux/arm64", Created: t0.Add(time.Hour + time.Minute)}}},
				{Name: "latest"}, {Name: "sha-abc"}, // listed, so Select counts them, but not described
			},
			// 1.0.0: manifest + config; 1.1.0: index + 2 × (manifest + config).
			requests: map[string]int{"GET /tags/list": 1, "GET /manifests/": 4, "GET /blobs/": 3},
		},
		{
			name:     "digest follows one tag",
			spec:     policy.Spec{Strategy: policy.Digest, Constraint: "sha-abc"},
			want:     []policy.Tag{{Name: "1.0.0"}, {Name: "1.1.0"}, {Name: "latest"}, {Name: "sha-abc", Digest: d3}},
			requests: map[string]int{"GET /tags/list": 1, "HEAD /manifests/": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetCounts()
			got, err := resolve.Candidates(context.Background(), client(t, srv), mustPolicy(t, tc.spec), repo)
			if err != nil {
				t.Fatal(err)
			}
			got = without(got, "1.2.0-debug") // order of the registry's list
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			gotReq := map[string]int{}
			for k := range tc.requests {
				var m, p string
				fmt.Sscan(k, &m, &p)
				gotReq[k] = srv.Count(m, p)
			}
			if diff := cmp.Diff(tc.requests, gotReq); diff != "" {
				t.Errorf("requests (-want +got):\n%s\n%q", diff, srv.Requests())
			}
		})
	}
}

func without(tags []policy.Tag, name string) []policy.Tag {
	var out []policy.Tag
	for _, t := range tags {
		if t.Name != name {
			out = append(out, t)
		}
	}
	return out
}

// deleting is a Source that deletes a tag right after listing, as a
// registry garbage collection racing with us would.
type deleting struct {
	*registry.Client
	srv *testreg.Server
	tag string
}

func (d deleting) ListTags(ctx context.Context, repo string) ([]string, error) {
	tags, err := d.Client.ListTags(ctx, repo)
	if err == nil {
		ref, _ := name.NewTag(repo + ":" + d.tag)
		err = remote.Delete(ref, d.srv.RemoteOptions()...)
	}
	return tags, err
}

func TestCandidatesTagGoneMeanwhile(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "sha-1")
	srv.PushImage(t, "team/app", t0.Add(time.Hour), "sha-2")
	src := deleting{Client: client(t, srv), srv: srv, tag: "sha-2"}
	got, err := resolve.Candidates(context.Background(), src, mustPolicy(t, policy.Spec{Strategy: policy.NewestBuild}), srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "sha-1" {
		t.Errorf("candidates = %+v, want only sha-1", got)
	}
}

// TestCandidatesExplainLikeOffline: the live path hands every listed tag to
// Select, so a policy that drops them all says why, tag by tag, exactly as
// `tagwatch test --tags-file` does with the same names (issue 15, point 2:
// "the repository has no tags", seen 0, while it had 4).
func TestCandidatesExplainLikeOffline(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "1.0.0", "1.1.0", "latest", "1.1.0.sig")
	for _, spec := range []policy.Spec{
		{AllowTags: `^v\d`},
		{Strategy: policy.NewestBuild, AllowTags: `^v\d`},
		{Strategy: policy.Digest, Constraint: "stable"},
	} {
		pol := mustPolicy(t, spec)
		tags, err := resolve.Candidates(context.Background(), client(t, srv), pol, srv.Repo("team/app"))
		if err != nil {
			t.Fatal(err)
		}
		live := pol.Select(tags, policy.Current{Tag: "1.0.0"})
		offline := pol.Select([]policy.Tag{{Name: "1.0.0"}, {Name: "1.1.0"}, {Name: "1.1.0.sig"}, {Name: "latest"}}, policy.Current{Tag: "1.0.0"})
		if live.Stats.Seen != 4 {
			t.Errorf("%+v: seen %d, want 4", spec, live.Stats.Seen)
		}
		if diff := cmp.Diff(offline.Stats, live.Stats); diff != "" {
			t.Errorf("%+v: stats (-offline +live):\n%s", spec, diff)
		}
		if live.Reason != offline.Reason || strings.Contains(live.Reason, "no tags") {
			t.Errorf("%+v: live reason %q, offline %q", spec, live.Reason, offline.Reason)
		}
	}
}

func TestCandidatesErrors(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "sha-1", "sha-2")
	srv.Inject(testreg.Fault{Method: "GET", Path: "/blobs/", Status: 500})
	_, err := resolve.Candidates(context.Background(), client(t, srv), mustPolicy(t, policy.Spec{Strategy: policy.NewestBuild}), srv.Repo("team/app"))
	if err == nil {
		t.Fatal("a metadata failure was swallowed")
	}
	if _, err := resolve.Candidates(context.Background(), client(t, srv), mustPolicy(t, policy.Spec{}), srv.Repo("team/none")); err == nil {
		t.Fatal("a list failure was swallowed")
	}
}

// TestDigestFollowsRetagOnImmutableHost: the digest strategy follows a tag
// that moves, so it asks the registry every cycle even when the host says
// its tags are immutable and the tag→digest record is cached, in this
// process or on disk. Describe (newest-build) still trusts the cache there.
func TestDigestFollowsRetagOnImmutableHost(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	repo := srv.Repo("team/proxy")
	old := srv.PushImage(t, "team/proxy", t0, "build-1", "stable")
	moved := srv.PushImage(t, "team/proxy", t0.Add(time.Hour), "build-2")
	cache := t.TempDir()
	newClient := func() *registry.Client {
		c, err := registry.New(registry.WithKeychain(anonymous{}), registry.WithRetry(1, 0), registry.WithCacheDir(cache),
			registry.WithHosts(registry.Host{Prefix: srv.Prefix(), RateLimit: 1000, ImmutableTags: true}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	follow := mustPolicy(t, policy.Spec{Strategy: policy.Digest, Constraint: "stable"})
	newest := mustPolicy(t, policy.Spec{Strategy: policy.NewestBuild, AllowTags: "^stable$"})
	followed := func(c *registry.Client, pol *policy.Policy) string {
		t.Helper()
		got, err := resolve.Candidates(context.Background(), c, pol, repo)
		if err != nil {
			t.Fatal(err)
		}
		var digests []string
		for _, tg := range got {
			if tg.Digest != "" {
				digests = append(digests, tg.Digest)
			}
		}
		if len(digests) != 1 {
			t.Fatalf("candidates = %+v, want a digest for stable only", got)
		}
		return digests[0]
	}

	c := newClient()
	if got := followed(c, follow); got != old {
		t.Fatalf("first cycle: digest %s, want %s", got, old)
	}
	if got := followed(c, newest); got != old {
		t.Fatalf("first cycle, newest-build: digest %s, want %s", got, old)
	}
	srv.Tag(t, "team/proxy", "build-2", "stable")

	srv.ResetCounts()
	if got := followed(c, follow); got != moved {
		t.Errorf("next cycle: digest %s, want the retagged %s", got, moved)
	}
	if n := srv.Count("HEAD", "/manifests/stable"); n != 1 {
		t.Errorf("next cycle: %d HEADs of stable, want 1", n)
	}
	if got := followed(newClient(), follow); got != moved {
		t.Errorf("after a restart on the same cache: digest %s, want %s", got, moved)
	}

	// Describe on the immutable host trusts the tag→digest it cached (a tag
	// moved there is a misconfiguration it does not see, by design): no HEAD.
	srv.Tag(t, "team/proxy", "build-1", "stable")
	srv.ResetCounts()
	if got := followed(newClient(), newest); got != moved {
		t.Errorf("newest-build on an immutable host: digest %s, want the cached %s", got, moved)
	}
	if n := srv.Count("HEAD", "/manifests/"); n != 0 {
		t.Errorf("newest-build on an immutable host sent %d HEADs: %q", n, srv.Requests())
	}
}
