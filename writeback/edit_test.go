package writeback

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestFormatScalar(t *testing.T) {
	tests := []struct {
		v     string
		style string // "plain", "single", "double"
		flow  bool
		want  string
	}{
		{"1.4.0", "plain", false, "1.4.0"},
		{"v1.20", "plain", false, "v1.20"},
		{"1.20", "plain", false, `"1.20"`},
		{"1e3", "plain", false, `"1e3"`},
		{"0x1F", "plain", false, `"0x1F"`},
		{"true", "plain", false, `"true"`},
		{"yes", "plain", false, `"yes"`},
		{"on", "plain", false, `"on"`},
		{"010", "plain", false, `"010"`},
		{"1_000", "plain", false, `"1_000"`},
		{"null", "plain", false, `"null"`},
		{"", "plain", false, `""`},
		{"registry.example.com:5000/app:1.0", "plain", false, "registry.example.com:5000/app:1.0"},
		{"registry.example.com:5000/app:1.0", "plain", true, "registry.example.com:5000/app:1.0"},
		{"1.20", "single", false, "'1.20'"},
		{"it's", "single", false, "'it''s'"},
		{"1.4.0", "double", false, `"1.4.0"`},
	}
	styles := map[string]yaml.Style{"plain": 0, "single": yaml.SingleQuotedStyle, "double": yaml.DoubleQuotedStyle}
	for _, tc := range tests {
		t.Run(tc.style+"/"+tc.v, func(t *testing.T) {
			got := formatScalar(tc.v, styles[tc.style], tc.flow)
			if got != tc.want {
				t.Errorf("formatScalar(%q, %s) = %s, want %s", tc.v, tc.style, got, tc.want)
			}
		})
	}
}

func TestSplitReference(t *testing.T) {
	const d = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		in   string
		want Image
	}{
		{"nginx", Image{Name: "nginx"}},
		{"nginx:1.25", Image{Name: "nginx", Tag: "1.25"}},
		{"reg:5000/team/app", Image{Name: "reg:5000/team/app"}},
		{"reg:5000/team/app:1.0", Image{Name: "reg:5000/team/app", Tag: "1.0"}},
		{"reg:5000/team/app:1.0@" + d, Image{Name: "reg:5000/team/app", Tag: "1.0", Digest: d}},
		{"app@" + d, Image{Name: "app", Digest: d}},
	}
	for _, tc := range tests {
		got := splitReference(tc.in)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitReference(%q) (-want +got):\n%s", tc.in, diff)
		}
		if got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestImageValidate(t *testing.T) {
	const d = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		img Image
		ok  bool
	}{
		{Image{Tag: "1.0.0"}, true},
		{Image{Tag: "_x"}, true},
		{Image{Tag: strings.Repeat("a", 128)}, true},
		{Image{Tag: strings.Repeat("a", 129)}, false},
		{Image{Tag: ".x"}, false},
		{Image{Tag: "-x"}, false},
		{Image{Tag: "a b"}, false},
		{Image{Tag: "a:b"}, false},
		{Image{Digest: d}, true},
		{Image{Digest: strings.ToUpper(d)}, false},
		{Image{Digest: "sha256:abc"}, false},
		{Image{Digest: "md5:" + d[7:]}, false},
		{Image{Name: "registry.example.com:5000/team/app", Tag: "1"}, true},
		{Image{Name: "nginx", Tag: "1"}, true},
		{Image{Name: "Team/App", Tag: "1"}, false},
		{Image{Name: "app:1", Tag: "1"}, false},
		{Image{Name: " app", Tag: "1"}, false},
		{Image{Name: "app"}, false}, // neither tag nor digest
		{Image{}, false},
	}
	for _, tc := range tests {
		err := tc.img.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.img, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%+v.Validate() = %v, not ErrInvalidValue", tc.img, err)
		}
	}
	// A hostile value is quoted and cut short, never repeated whole.
	for _, img := range []Image{
		{Tag: "9.9.9+" + strings.Repeat("x", 100<<10)},
		{Digest: "sha256:" + strings.Repeat("f", 100<<10)},
		{Name: strings.Repeat("a", 100<<10), Tag: "1"},
	} {
		if err := img.Validate(); err == nil || len(err.Error()) > 300 {
			t.Errorf("Validate of a 100 KB value: %d bytes of error", len(err.Error()))
		}
	}
}

func TestTargetValidate(t *testing.T) {
	tests := []struct {
		t  Target
		ok bool
	}{
		{Target{Kind: Kustomize, Path: "envs/a", Name: "app"}, true},
		{Target{Kind: Kustomize, Path: "envs/a"}, false},
		{Target{Kind: Marker, Name: "app"}, true},
		{Target{Kind: Marker, Name: "app:tag"}, false},
		{Target{Kind: Helm, Path: "v.yaml", TagField: "image.tag"}, true},
		{Target{Kind: Helm, Path: "v.yaml", ImageField: "containers[0].image"}, true},
		{Target{Kind: Helm, Path: "v.yaml", ImageField: "image", TagField: "tag"}, false},
		{Target{Kind: Helm, Path: "v.yaml"}, false},
		{Target{Kind: Helm, Path: "v.yaml", TagField: "image..tag"}, false},
		{Target{Kind: "kubectl"}, false},
	}
	for _, tc := range tests {
		if err := tc.t.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.t, err, tc.ok)
		}
	}
}

func TestReadKustomizeNotFound(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, filepath.Join(root, "kustomization.yaml"), "images:\n- name: other\n  newTag: \"1\"\n")
	_, err := Read(root, Target{Kind: Kustomize, Path: ".", Name: "app"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read = %v, want ErrNotFound", err)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != "kustomization.yaml" {
		t.Errorf("error %v is not a FileError naming kustomization.yaml", err)
	}
	if _, err := Read(t.TempDir(), Target{Kind: Kustomize, Path: ".", Name: "app"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read without a kustomization = %v, want ErrNotFound", err)
	}
}

// Write keeps the file's permissions and leaves no temporary file behind.
func TestWriteKeepsModeAndCleansUp(t *testing.T) {
	root := t.TempDir()
	name := filepath.Join(root, "kustomization.yaml")
	writeTestFile(t, name, "images:\n- name: app\n  newTag: \"1\"\n")
	if err := os.Chmod(name, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(root, Target{Kind: Kustomize, Name: "app"}, Image{Tag: "2"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the kustomization", len(entries))
	}
}

func TestFileErrorMessage(t *testing.T) {
	err := newFileError("envs/a/kustomization.yaml", 7, `duplicate images entry "app" (also at line 3)`, ErrMalformedYAML)
	want := `envs/a/kustomization.yaml:7: duplicate images entry "app" (also at line 3): malformed YAML`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if !errors.Is(err, ErrMalformedYAML) {
		t.Error("FileError does not unwrap to its sentinel")
	}
}
