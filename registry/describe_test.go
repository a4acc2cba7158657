package registry_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

func TestDescribe(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	imgDigest := srv.PushImage(t, "team/app", created, "img")
	bare := srv.Push(t, "team/app", srv.NewImage(t, created, ""), "no-platform") // config without os/architecture
	idxDigest := srv.PushIndex(t, "team/app", created, []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}, "idx")
	c := newClient(t, srv.Target)
	ctx := context.Background()

	for _, tc := range []struct {
		tag  string
		want registry.Meta
	}{
		{"img", registry.Meta{Digest: imgDigest, Created: created, Platforms: []registry.Platform{{"linux/amd64", created}}}},
		{"no-platform", registry.Meta{Digest: bare, Created: created}},
		{"idx", registry.Meta{Digest: idxDigest, Created: created.Add(2 * time.Minute), Platforms: []registry.Platform{
			{"linux/amd64", created},
			{"linux/arm/v7", created.Add(2 * time.Minute)},
			{"linux/arm64/v8", created.Add(time.Minute)},
		}}},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			got, err := c.Describe(ctx, srv.Repo("team/app"), tc.tag)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Describe (-want +got):\n%s", diff)
			}
			d, err := c.Digest(ctx, srv.Repo("team/app"), tc.tag)
			if err != nil || d != tc.want.Digest {
				t.Errorf("Digest = %q, %v; want %q", d, err, tc.want.Digest)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", created, "1.0.0")
	c := newClient(t, srv.Target)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"list missing repo":     func() error { _, err := c.ListTags(ctx, srv.Repo("team/nope")); return err },
		"digest missing tag":    func() error { _, err := c.Digest(ctx, srv.Repo("team/app"), "9.9.9"); return err },
		"describe missing tag":  func() error { _, err := c.Describe(ctx, srv.Repo("team/app"), "9.9.9"); return err },
		"describe missing repo": func() error { _, err := c.Describe(ctx, srv.Repo("team/nope"), "1.0.0"); return err },
	} {
		t.Run(name, func(t *testing.T) {
			srv.ResetCounts()
			err := call()
			if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "team/") {
				t.Errorf("err = %v, want ErrNotFound naming the repository", err)
			}
			if reqs := srv.Requests(); len(reqs) > 2 { // ping + the one request
				t.Errorf("404 retried: %q", reqs)
			}
		})
	}
}

// TestRequestBudget proves the cost of newest-build over 300 tags: cold,
// then warm after a restart (a new Client on the same cache directory), then
// with ImmutableTags.
func TestRequestBudget(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	tags := tagNames("sha-", 300)
	for i, tag := range tags {
		srv.PushImage(t, "team/app", created.Add(time.Duration(i)*time.Minute), tag)
	}
	repo := srv.Repo("team/app")
	cache := t.TempDir()
	newest := func(c *registry.Client) string {
		t.Helper()
		ctx := context.Background()
		list, err := c.ListTags(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		best, bestTime := "", time.Time{}
		for _, tag := range list {
			m, err := c.Describe(ctx, repo, tag)
			if err != nil {
				t.Fatal(err)
			}
			if m.Created.After(bestTime) {
				best, bestTime = tag, m.Created
			}
		}
		return best
	}
	type counts struct{ List, Head, Manifest, Blob int }
	run := func(name string, want counts, opts ...registry.Option) {
		t.Run(name, func(t *testing.T) {
			srv.ResetCounts()
			c := newClient(t, srv.Target, append([]registry.Option{registry.WithCacheDir(cache)}, opts...)...)
			if got := newest(c); got != "sha-0299" {
				t.Errorf("newest = %q, want sha-0299", got)
			}
			got := counts{srv.Count("GET", "/tags/list"), srv.Count("HEAD", "/manifests/"), srv.Count("GET", "/manifests/"), srv.Count("GET", "/blobs/")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests at the registry (-want +got):\n%s", diff)
			}
			st := c.Stats()
			if diff := cmp.Diff(want, counts{st.List, st.Head, st.Manifest, st.Blob}); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
		})
	}
	run("cold", counts{List: 1, Manifest: 300, Blob: 300})
	run("warm after restart", counts{List: 1, Head: 300})
	run("immutable tags", counts{List: 1},
		registry.WithHosts(registry.Host{Prefix: srv.Prefix() + "/team", ImmutableTags: true}))
}

func TestCacheSurvivesCorruption(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	digest := srv.PushImage(t, "team/app", created, "1.0.0")
	cache := t.TempDir()
	ctx := context.Background()
	want, err := newClient(t, srv.Target, registry.WithCacheDir(cache)).Describe(ctx, srv.Repo("team/app"), "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("nothing cached")
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte(`{"digest": "sha256:tru`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCounts()
	got, err := newClient(t, srv.Target, registry.WithCacheDir(cache)).Describe(ctx, srv.Repo("team/app"), "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Describe over a corrupt cache (-want +got):\n%s", diff)
	}
	if srv.Count("GET", "/blobs/") != 1 {
		t.Errorf("corrupt entry was trusted: %q", srv.Requests())
	}
	// A corrupt pack is dropped (compacted away) or rewritten: no file
	// keeps the garbage.
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && (!strings.Contains(string(b), digest) || !strings.HasSuffix(string(b), "}\n")) {
			t.Errorf("%s not rewritten: %s", f, b)
		}
	}
	// And now the rewritten cache serves a restart without reading the config.
	srv.ResetCounts()
	if _, err := newClient(t, srv.Target, registry.WithCacheDir(cache)).Describe(ctx, srv.Repo("team/app"), "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if srv.Count("GET", "/blobs/") != 0 || srv.Count("GET", "/manifests/") != 0 {
		t.Errorf("rewritten cache not used: %q", srv.Requests())
	}
}

func TestRetag(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	imgDigest := srv.PushImage(t, "team/app", created, "1.0.0-rc.1")
	idxDigest := srv.PushIndex(t, "team/app", created, []string{"linux/amd64", "linux/arm64"}, "multi-rc")
	c := newClient(t, srv.Target)
	ctx := context.Background()
	if _, err := c.ListTags(ctx, srv.Repo("team/app")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, want string
		tags      []string
	}{
		{srv.Repo("team/app:1.0.0-rc.1"), imgDigest, []string{"1.0.0", "stable"}},
		{srv.Repo("team/app@") + idxDigest, idxDigest, []string{"multi"}},
	} {
		srv.ResetCounts()
		got, err := c.Retag(ctx, tc.src, tc.tags...)
		if err != nil || got != tc.want {
			t.Fatalf("Retag(%s) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
		if n := srv.Count("", "/blobs/"); n != 0 {
			t.Errorf("Retag touched blobs: %q", srv.Requests())
		}
		for _, tag := range tc.tags {
			if d, err := c.Digest(ctx, srv.Repo("team/app"), tag); err != nil || d != tc.want {
				t.Errorf("Digest(%s) = %q, %v; want %q", tag, d, err, tc.want)
			}
		}
	}
	tags, err := c.ListTags(ctx, srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1.0.0", "1.0.0-rc.1", "multi", "multi-rc", "stable"}, tags); diff != "" {
		t.Errorf("tags after Retag, same cycle (-want +got):\n%s", diff)
	}
	if _, err := c.Retag(ctx, srv.Repo("team/app:nope"), "x"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Retag of a missing tag: err = %v, want ErrNotFound", err)
	}
	if _, err := c.Retag(ctx, srv.Repo("team/app:1.0.0"), "bad tag"); err == nil || !strings.Contains(err.Error(), `"bad tag"`) {
		t.Errorf("Retag to an invalid tag: err = %v", err)
	}
}

// TestDigestWithoutHeader: a registry that answers HEAD without
// Docker-Content-Digest still gives the digest (through a manifest GET).
func TestDigestWithoutHeader(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	want := srv.PushImage(t, "team/app", created, "1.0.0")
	srv.Inject(testreg.Fault{Method: "HEAD", Path: "/manifests/", DropHeader: "Docker-Content-Digest"})
	got, err := newClient(t, srv.Target).Digest(context.Background(), srv.Repo("team/app"), "1.0.0")
	if err != nil || got != want {
		t.Errorf("Digest = %q, %v; want %q", got, err, want)
	}
	if srv.Count("GET", "/manifests/") != 1 {
		t.Errorf("no fallback GET: %q", srv.Requests())
	}
}
