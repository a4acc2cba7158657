package registry_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/tagwatch/tagwatch/registry"
)

func TestValidTag(t *testing.T) {
	for s, want := range map[string]bool{
		"1.0.0": true, "v1.2.3-rc.1": true, "_x": true, "latest": true, "sha-0123abcd": true,
		strings.Repeat("a", 128): true,
		"":                       false,
		strings.Repeat("a", 129): false,
		"9.9.9+build":            false,
		"a:b":                    false,
		"a/b":                    false,
		"a b":                    false,
		"tab\there":              false,
		"nul\x00":                false,
		".hidden":                false,
		"-dash":                  false,
		"é":                      false,
	} {
		if got := registry.ValidTag(s); got != want {
			t.Errorf("ValidTag(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzValidTag: ValidTag is the specification's grammar, and whatever it
// accepts go-containerregistry accepts as a tag too.
func FuzzValidTag(f *testing.F) {
	spec := regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	for _, s := range []string{"1.0.0", "9.9.9+build", "-x", "a:b", strings.Repeat("b", 128)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := registry.ValidTag(s)
		if want := spec.MatchString(s); got != want {
			t.Fatalf("ValidTag(%q) = %v, the grammar says %v", s, got, want)
		}
		if got {
			if _, err := name.NewTag("r.example.com/team/app:"+s, name.StrictValidation); err != nil {
				t.Errorf("ValidTag(%q) but go-containerregistry refuses it: %v", s, err)
			}
		}
	})
}
