package writeback

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMarkerComment(t *testing.T) {
	type result struct {
		Alias, Field string
		OK, Err      bool
	}
	tests := []struct {
		in   string
		want result
	}{
		{`# {"$tagwatch": "app"}`, result{"app", "", true, false}},
		{`#{"$tagwatch":"app:tag"}`, result{"app", "tag", true, false}},
		{`# {"$tagwatch": "team-app:name"}`, result{"team-app", "name", true, false}},
		{`# {"$tagwatch": "app:digest", "note": 1}`, result{"app", "digest", true, false}},
		{`# {"$imagepolicy": "flux:app:tag"}`, result{}},
		{`# just a comment`, result{}},
		{`# {"other": "$tagwatch"}`, result{}},
		{`# {"$tagwatch": "app:version"}`, result{"app", "", true, true}},
		{`# {"$tagwatch": "a:b:tag"}`, result{"a:b", "", true, true}},
		{`# {"$tagwatch": ""}`, result{"", "", true, true}},
		{`# {"$tagwatch": ":tag"}`, result{"", "", true, true}},
		{`# {"$tagwatch": 7}`, result{"", "", false, true}},
		{`# {"$tagwatch": "app"`, result{"", "", false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			a, f, ok, err := parseMarkerComment(tc.in)
			got := result{a, f, ok, err != nil}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkerRead(t *testing.T) {
	const d = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name  string
		files map[string]string
		want  Image
	}{
		{"whole wins", map[string]string{
			"a.yaml": "tag: 9 # {\"$tagwatch\": \"app:tag\"}\n",
			"b.yaml": "image: r.example.com/app:1.0@" + d + " # {\"$tagwatch\": \"app\"}\n",
		}, Image{Name: "r.example.com/app", Tag: "1.0", Digest: d}},
		{"parts", map[string]string{
			"a.yaml": "name: r.example.com/app # {\"$tagwatch\": \"app:name\"}\ntag: '1.0' # {\"$tagwatch\": \"app:tag\"}\n",
			"b.yml":  "- " + d + " # {\"$tagwatch\": \"app:digest\"}\n",
		}, Image{Name: "r.example.com/app", Tag: "1.0", Digest: d}},
		{"tag with digest", map[string]string{
			"a.yaml": "tag: 1.0@" + d + " # {\"$tagwatch\": \"app:tag\"}\n",
		}, Image{Tag: "1.0", Digest: d}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for n, c := range tc.files {
				writeTestFile(t, root+"/env/"+n, c)
			}
			got, err := Read(root, Target{Kind: Marker, Path: "env", Name: "app"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Marker scanning skips .git, reads each real file once (a symlink to a
// file inside the repository is the same file) and refuses a symlinked
// YAML file that points out of the repository.
func TestMarkerFilesWalk(t *testing.T) {
	root := t.TempDir()
	const marked = "image: team/app:1.0 # {\"$tagwatch\": \"app\"}\n"
	writeTestFile(t, filepath.Join(root, "env", "a.yaml"), marked)
	writeTestFile(t, filepath.Join(root, "env", ".git", "b.yaml"), marked)
	writeTestFile(t, filepath.Join(root, "env", "c.txt"), marked)
	symlinkForTest(t, "a.yaml", filepath.Join(root, "env", "same.yaml"))
	got, err := Write(root, Target{Kind: Marker, Path: "env", Name: "app"}, Image{Tag: "2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"env/a.yaml"}, got); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}

	outside := filepath.Join(t.TempDir(), "x.yaml")
	writeTestFile(t, outside, marked)
	symlinkForTest(t, outside, filepath.Join(root, "env", "out.yaml"))
	if _, err := Write(root, Target{Kind: Marker, Path: "env", Name: "app"}, Image{Tag: "3.0"}); !errors.Is(err, ErrOutsideRepo) {
		t.Fatalf("Write with a symlink out = %v, want ErrOutsideRepo", err)
	}
	if data, _ := os.ReadFile(outside); string(data) != marked {
		t.Errorf("file outside the repository changed: %q", data)
	}
}
