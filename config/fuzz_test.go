package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; it returns a valid config or errors that
// all name the file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../docs/examples/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(head))
	f.Add([]byte(head + "        helm: {file: v.yaml, tag: a.b}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("environments: &e [{name: a, images: *e}]\n"))
	f.Add([]byte("git: {url: x}\nenvironments:\n- {name: a, path: b, images: [{image: c, strategy: digest}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config with error %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		if errs := c.Validate(); errs != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", errs)
		}
	})
}

// BenchmarkParse measures loading a config of 100 environments × 5 images.
func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("git: {url: https://git.example.com/deploy.git}\nenvironments:\n")
	for i := range 100 {
		sb.WriteString("  - name: env-" + itoa(i) + "\n    path: envs/env-" + itoa(i) + "\n    images:\n")
		for j := range 5 {
			sb.WriteString("      - image: registry.example.com/team/app" + itoa(j) + "\n        constraint: '^1'\n        ignoreTags: ['*-debug']\n")
		}
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("b.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	return strconv.Itoa(i)
}
