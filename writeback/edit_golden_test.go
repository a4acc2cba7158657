package writeback

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// goldenCase is testdata/<case>/case.yaml: the target and value written
// into a copy of original/, and what must come out of it.
type goldenCase struct {
	Target struct {
		Kind            Kind   `yaml:"kind"`
		Path            string `yaml:"path"`
		Name            string `yaml:"name"`
		ImageField      string `yaml:"imageField"`
		RepositoryField string `yaml:"repositoryField"`
		TagField        string `yaml:"tagField"`
		DigestField     string `yaml:"digestField"`
	} `yaml:"target"`
	Image struct {
		Name   string `yaml:"name"`
		Tag    string `yaml:"tag"`
		Digest string `yaml:"digest"`
	} `yaml:"image"`
	Changed []string `yaml:"changed"` // files Write reports
	// Fields, when set, are the fields WriteChanges reports, "file: field".
	Fields []string `yaml:"fields"`
	// Read, when set, is what Read returns after the write.
	Read *struct {
		Name   string `yaml:"name"`
		Tag    string `yaml:"tag"`
		Digest string `yaml:"digest"`
	} `yaml:"read"`
	// Error cases: Write fails with an error wrapping the sentinel named
	// by ErrorIs and containing Error; nothing is written.
	Error   string `yaml:"error"`
	ErrorIs string `yaml:"errorIs"`
	// SymlinkOut is created in the copy, pointing outside the repository.
	SymlinkOut string `yaml:"symlinkOut"`
}

var goldenSentinels = map[string]error{
	"ErrNotFound":      ErrNotFound,
	"ErrOutsideRepo":   ErrOutsideRepo,
	"ErrInvalidValue":  ErrInvalidValue,
	"ErrMalformedYAML": ErrMalformedYAML,
	"ErrInvalidTarget": ErrInvalidTarget,
}

func (c goldenCase) target() Target {
	t := c.Target
	return Target{Kind: t.Kind, Path: t.Path, Name: t.Name, ImageField: t.ImageField,
		RepositoryField: t.RepositoryField, TagField: t.TagField, DigestField: t.DigestField}
}

func (c goldenCase) image() Image {
	return Image{Name: c.Image.Name, Tag: c.Image.Tag, Digest: c.Image.Digest}
}

func TestWriteGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		dir := filepath.Join("testdata", d.Name())
		if _, err := os.Stat(filepath.Join(dir, "case.yaml")); err != nil {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "case.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := yaml.Unmarshal(raw, &c); err != nil {
				t.Fatalf("case.yaml: %v", err)
			}
			root := t.TempDir()
			copyGoldenTree(t, filepath.Join(dir, "original"), root)
			if c.SymlinkOut != "" {
				if err := os.Symlink(t.TempDir(), filepath.Join(root, filepath.FromSlash(c.SymlinkOut))); err != nil {
					t.Fatal(err)
				}
			}
			before := readGoldenTree(t, root)
			changes, err := WriteChanges(root, c.target(), c.image())
			var got, fields []string
			for _, ch := range changes {
				got = append(got, ch.Path)
				for _, f := range ch.Fields {
					fields = append(fields, ch.Path+": "+f)
				}
				if want, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(ch.Path))); string(want) != string(ch.After) || before[ch.Path] != string(ch.Before) {
					t.Errorf("%s: Before/After are not the bytes before and after the write", ch.Path)
				}
			}
			if c.Error != "" || c.ErrorIs != "" {
				if err == nil {
					t.Fatalf("Write succeeded (changed %v), want error %q", got, c.Error)
				}
				if !strings.Contains(err.Error(), c.Error) {
					t.Errorf("error %q does not contain %q", err, c.Error)
				}
				if want, ok := goldenSentinels[c.ErrorIs]; !ok || !errors.Is(err, want) {
					t.Errorf("error %q is not %s", err, c.ErrorIs)
				}
				if diff := cmp.Diff(before, readGoldenTree(t, root)); diff != "" {
					t.Errorf("failed Write changed files (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if diff := cmp.Diff(c.Changed, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("changed files (-want +got):\n%s", diff)
			}
			if c.Fields != nil {
				if diff := cmp.Diff(c.Fields, fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
			} else if len(got) > 0 && len(fields) == 0 {
				t.Errorf("files changed but no field reported")
			}
			expected := filepath.Join(dir, "expected")
			if _, err := os.Stat(expected); err != nil {
				expected = filepath.Join(dir, "original") // already up to date
			}
			if diff := cmp.Diff(readGoldenTree(t, expected), readGoldenTree(t, root)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			again, err := Write(root, c.target(), c.image())
			if err != nil || len(again) > 0 {
				t.Errorf("second Write = %v, %v; want no change", again, err)
			}
			if c.Read != nil {
				img, err := Read(root, c.target())
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				want := Image{Name: c.Read.Name, Tag: c.Read.Tag, Digest: c.Read.Digest}
				if diff := cmp.Diff(want, img); diff != "" {
					t.Errorf("Read (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// copyGoldenTree copies the regular files and symlinks of src into dst.
func copyGoldenTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, to)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readGoldenTree maps each file under root (slash path) to its content; a
// symlink maps to "-> target".
func readGoldenTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&fs.ModeSymlink != 0 {
			l, err := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "-> " + l
			return err
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
