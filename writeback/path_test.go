package writeback

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFieldPath(t *testing.T) {
	tests := []struct {
		in   string
		want []fieldStep
		err  bool
	}{
		{in: "image.tag", want: []fieldStep{{key: "image", index: -1}, {key: "tag", index: -1}}},
		{in: "containers[0].image", want: []fieldStep{{key: "containers", index: -1}, {index: 0}, {key: "image", index: -1}}},
		{in: "a[1][2]", want: []fieldStep{{key: "a", index: -1}, {index: 1}, {index: 2}}},
		{in: "[3].name", want: []fieldStep{{index: 3}, {key: "name", index: -1}}},
		{in: "app-1.image_tag", want: []fieldStep{{key: "app-1", index: -1}, {key: "image_tag", index: -1}}},
		{in: "", err: true},
		{in: "a..b", err: true},
		{in: ".a", err: true},
		{in: "a.", err: true},
		{in: "a[", err: true},
		{in: "a[x]", err: true},
		{in: "a[-1]", err: true},
		{in: "a[01]", err: true},
		{in: "a[0]b", err: true},
		{in: "a]", err: true},
		{in: "a.[0]", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseFieldPath(tc.in)
			if tc.err {
				if err == nil || !errors.Is(err, ErrInvalidTarget) {
					t.Fatalf("parseFieldPath(%q) = %v, %v; want ErrInvalidTarget", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(fieldStep{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if back := formatFieldPath(got); back != tc.in {
				t.Errorf("formatFieldPath = %q, want %q", back, tc.in)
			}
		})
	}
}

func TestResolveRepoPath(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeTestFile(t, filepath.Join(root, "envs", "prod", "kustomization.yaml"), "images: []\n")
	writeTestFile(t, filepath.Join(outside, "kustomization.yaml"), "images: []\n")
	symlinkForTest(t, "envs/prod", filepath.Join(root, "prod-link"))                    // relative, inside: fine
	symlinkForTest(t, "../envs/prod", filepath.Join(root, "envs", "rel-link"))          // relative, inside
	symlinkForTest(t, "rel-link/../prod", filepath.Join(root, "envs", "chain"))         // through another link
	symlinkForTest(t, outside, filepath.Join(root, "envs", "out"))                      // points out
	symlinkForTest(t, "../../..", filepath.Join(root, "envs", "prod", "up"))            // climbs out
	symlinkForTest(t, "../../../x/../envs", filepath.Join(root, "envs", "prod", "dip")) // out and back in: out
	symlinkForTest(t, "loop-b", filepath.Join(root, "loop-a"))                          // a loop
	symlinkForTest(t, "loop-a", filepath.Join(root, "loop-b"))
	// Absolute targets are refused even where they name a place inside
	// this working copy, or none here at all: in another checkout the same
	// link points elsewhere (issue 14: go-git used to check out /envs/prod
	// as <cache>/envs/prod, and tagwatch edited a file the link does not
	// point to in a real checkout).
	symlinkForTest(t, filepath.Join(root, "envs", "prod"), filepath.Join(root, "abs-inside"))
	symlinkForTest(t, "/envs/prod", filepath.Join(root, "abs-rooted"))
	tests := []struct {
		in      string
		wantRel string
		wantErr error
	}{
		{in: "", wantRel: "."},
		{in: ".", wantRel: "."},
		{in: "envs/prod", wantRel: "envs/prod"},
		{in: "envs/./prod/", wantRel: "envs/prod"},
		{in: "envs/x/../prod", wantRel: "envs/prod"},
		{in: "prod-link", wantRel: "envs/prod"},
		{in: "prod-link/kustomization.yaml", wantRel: "envs/prod/kustomization.yaml"},
		{in: "envs/rel-link/kustomization.yaml", wantRel: "envs/prod/kustomization.yaml"},
		{in: "envs/chain/kustomization.yaml", wantRel: "envs/prod/kustomization.yaml"},
		{in: "abs-inside", wantErr: ErrOutsideRepo},
		{in: "abs-inside/kustomization.yaml", wantErr: ErrOutsideRepo},
		{in: "abs-rooted/kustomization.yaml", wantErr: ErrOutsideRepo},
		{in: "envs/out/kustomization.yaml", wantErr: ErrOutsideRepo},
		{in: "envs/prod/dip", wantErr: ErrOutsideRepo},
		{in: "loop-a", wantErr: errLoop},
		{in: "../x", wantErr: ErrOutsideRepo},
		{in: "envs/../../x", wantErr: ErrOutsideRepo},
		{in: "/etc", wantErr: ErrOutsideRepo},
		{in: `envs\prod`, wantErr: ErrOutsideRepo},
		{in: "envs/out", wantErr: ErrOutsideRepo},
		{in: "envs/prod/up", wantErr: ErrOutsideRepo},
		{in: "envs/missing", wantErr: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := resolveRepoPath(root, tc.in)
			if tc.wantErr == errLoop {
				if err == nil || !strings.Contains(err.Error(), "symbolic links") {
					t.Fatalf("resolveRepoPath(%q) = %+v, %v; want a loop error", tc.in, got, err)
				}
				return
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("resolveRepoPath(%q) = %+v, %v; want %v", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.rel != tc.wantRel {
				t.Errorf("rel = %q, want %q", got.rel, tc.wantRel)
			}
		})
	}
}

// A kustomization reached through a symlink inside the repository is
// edited in place: the link stays a link and the real file is reported.
func TestWriteThroughSymlinkInside(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, filepath.Join(root, "shared", "kustomization.yaml"), "images:\n- name: a\n  newTag: \"1\"\n")
	symlinkForTest(t, "shared", filepath.Join(root, "prod"))
	got, err := Write(root, Target{Kind: Kustomize, Path: "prod", Name: "a"}, Image{Tag: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"shared/kustomization.yaml"}, got); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if fi, err := os.Lstat(filepath.Join(root, "prod")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("prod is no longer a symlink: %v %v", fi, err)
	}
}

var errLoop = errors.New("loop")

func symlinkForTest(t testing.TB, oldname, newname string) {
	t.Helper()
	if err := os.Symlink(oldname, newname); err != nil {
		t.Fatal(err)
	}
}
