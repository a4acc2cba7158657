package gitrepo

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// linkFixture has symbolic links committed with absolute and relative
// targets. A checkout made by git writes each target as committed.
var linkFixture = struct{ files, links map[string]string }{
	files: map[string]string{
		"envs/shared/kustomization.yaml": "images: []\n",
		"README.md":                      "links\n",
	},
	links: map[string]string{
		"envs/prod/kustomization.yaml": "/envs/shared/kustomization.yaml", // absolute
		"envs/abs-dir":                 "/envs/shared",
		"envs/rel":                     "shared/kustomization.yaml",
		"envs/up":                      "../../outside",
	},
}

// links reads the symbolic links of linkFixture in the working copy.
func links(t *testing.T, r *Repo) map[string]string {
	t.Helper()
	got := map[string]string{}
	for p := range linkFixture.links {
		target, err := os.Readlink(filepath.Join(r.Dir(), filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		got[p] = filepath.ToSlash(target)
	}
	return got
}

// TestSymlinksAsCommitted pins issue 14's fourth point: go-git's checkout
// (go-billy's chroot) rewrote an absolute link target into the cache
// directory (/envs/shared/… became <cache>/<hash>/envs/shared/…), so a
// link out of the repository pointed into it, and a fresh clone and a
// warm cache disagreed. Every way the working copy is written leaves each
// link's target as Git has it.
func TestSymlinksAsCommitted(t *testing.T) {
	bare := testgit.NewBareWithLinks(t, linkFixture.files, linkFixture.links)
	url, cache := "file://"+bare, t.TempDir()
	ctx := context.Background()

	r, err := Open(ctx, url, WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(linkFixture.links, links(t, r)); diff != "" {
		t.Errorf("fresh clone (-git +working copy):\n%s", diff)
	}
	// Warm: a foreign commit fetched and reset to (fast path).
	foreign := testgit.NewClone(t, bare)
	if _, err := foreign.CommitAndPush("README.md", "moved\n", "foreign"); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(linkFixture.links, links(t, r)); diff != "" {
		t.Errorf("after Sync (-git +working copy):\n%s", diff)
	}
	r.Close()
	// Warm, reopened: fetch and hard reset by go-git.
	os.Remove(filepath.Join(r.Dir(), "envs", "rel"))
	r, err = Open(ctx, url, WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if diff := cmp.Diff(linkFixture.links, links(t, r)); diff != "" {
		t.Errorf("reopened (-git +working copy):\n%s", diff)
	}
}
