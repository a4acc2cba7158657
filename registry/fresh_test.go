package registry_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
	"golang.org/x/sync/errgroup"
)

// newestOf describes tags concurrently, as resolve.Find does, and returns
// the one built last.
func newestOf(t *testing.T, c *registry.Client, repo string, tags []string) string {
	t.Helper()
	metas := make([]registry.Meta, len(tags))
	g := errgroup.Group{}
	g.SetLimit(64)
	for i, tag := range tags {
		g.Go(func() (err error) {
			metas[i], err = c.Describe(context.Background(), repo, tag)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, m := range metas {
		if m.Created.After(metas[best].Created) {
			best = i
		}
	}
	return tags[best]
}

type requests struct{ Head, Manifest, Blob int }

func counted(srv *testreg.Server) requests {
	return requests{srv.Count("HEAD", "/manifests/"), srv.Count("GET", "/manifests/"), srv.Count("GET", "/blobs/")}
}

// TestDescribeMovedTag pins what a warm newest-build may skip (issue 13).
// sha-a holds the oldest build when it moves to the newest one. A warm run
// sees the move: it asks the registry for every tag (one HEAD each), since
// an old build time known for a tag says nothing of what the tag holds now.
// Within a host's TagTTL the digest seen is trusted without a HEAD: the
// move is seen once the TTL has passed, not before. Digest always asks.
func TestDescribeMovedTag(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	repo := srv.Repo("team/app")
	tags := tagNames("sha-", 20)
	for i, tag := range tags {
		srv.PushImage(t, "team/app", created.Add(time.Duration(i)*time.Minute), tag)
	}
	cache := t.TempDir()
	client := func(ttl time.Duration) *registry.Client {
		return newClient(t, srv.Target, registry.WithCacheDir(cache),
			registry.WithHosts(registry.Host{Prefix: srv.Prefix() + "/team", TagTTL: ttl}))
	}
	run := func(name string, c *registry.Client, wantNewest string, want requests) {
		t.Helper()
		srv.ResetCounts()
		if got := newestOf(t, c, repo, tags); got != wantNewest {
			t.Errorf("%s: newest = %q, want %q", name, got, wantNewest)
		}
		if diff := cmp.Diff(want, counted(srv)); diff != "" {
			t.Errorf("%s: requests (-want +got):\n%s", name, diff)
		}
	}
	run("cold", client(0), "sha-0019", requests{Manifest: 20, Blob: 20})
	run("warm", client(0), "sha-0019", requests{Head: 20})
	run("warm within the TTL", client(time.Hour), "sha-0019", requests{})

	moved := srv.PushImage(t, "team/app", created.Add(time.Hour), "sha-0000")
	run("moved, within the TTL", client(time.Hour), "sha-0019", requests{})
	run("moved, warm", client(0), "sha-0000", requests{Head: 20, Manifest: 1, Blob: 1})

	srv.PushImage(t, "team/app", created.Add(2*time.Hour), "sha-0001")
	time.Sleep(20 * time.Millisecond) // the TTL below has passed since the tags were seen
	run("moved, TTL passed", client(10*time.Millisecond), "sha-0001", requests{Head: 20, Manifest: 1, Blob: 1})

	srv.ResetCounts()
	if d, err := client(time.Hour).Digest(context.Background(), repo, "sha-0000"); err != nil || d != moved {
		t.Errorf("Digest = %q, %v; want %s", d, err, moved)
	}
	if n := counted(srv).Head; n != 1 {
		t.Errorf("Digest within the TTL sent %d HEADs, want 1", n)
	}
}

// TestCacheWritesInBatches: a burst of work writes what it learnt in one
// file, which the next process reads; when files pile up, the next process
// merges them into one.
func TestCacheWritesInBatches(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	repo := srv.Repo("team/app")
	tags := tagNames("sha-", 300)
	for i, tag := range tags {
		srv.PushImage(t, "team/app", created.Add(time.Duration(i)*time.Minute), tag)
	}
	cache := t.TempDir()
	packs := func() []string {
		t.Helper()
		files, err := filepath.Glob(filepath.Join(cache, "v1", "packs", "*"))
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	if got := newestOf(t, newClient(t, srv.Target, registry.WithCacheDir(cache)), repo, tags); got != "sha-0299" {
		t.Fatalf("newest = %q", got)
	}
	// 300 tag and 300 metadata records; a worker of the burst that ends
	// while others are still to start may write a few on its own.
	if n := len(packs()); n < 1 || n > 3 {
		t.Errorf("the cold burst wrote %d files, want 1 (a few at most): %q", n, packs())
	}
	// Sequential callers each end a burst: one file each, until a load
	// finds more than 16 and merges them.
	merged := false
	var added []string
	for i := range 40 {
		c := newClient(t, srv.Target, registry.WithCacheDir(cache))
		tag := "new-" + tags[i]
		srv.PushImage(t, "team/app", created.Add(time.Duration(i+1)*time.Hour), tag)
		added = append(added, tag)
		before := len(packs())
		if _, err := c.Describe(context.Background(), repo, tag); err != nil {
			t.Fatal(err)
		}
		n := len(packs())
		if n > 17 {
			t.Fatalf("%d files after burst %d", n, i)
		}
		merged = merged || n < before
	}
	if !merged {
		t.Errorf("40 bursts, %d files, never merged", len(packs()))
	}
	srv.ResetCounts()
	all := append(tags, added...)
	if got := newestOf(t, newClient(t, srv.Target, registry.WithCacheDir(cache)), repo, all); got != added[39] {
		t.Errorf("newest = %q", got)
	}
	if diff := cmp.Diff(requests{Head: len(all)}, counted(srv)); diff != "" {
		t.Errorf("requests of a warm run over the merged files (-want +got):\n%s", diff)
	}
	// Nothing is left behind half-written.
	entries, _ := os.ReadDir(filepath.Join(cache, "v1", "packs"))
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".jsonl" {
			t.Errorf("stray file %s", e.Name())
		}
	}
}
