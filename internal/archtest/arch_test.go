// Package archtest fences the architecture: the leaf packages (policy,
// registry, writeback, gitrepo) never import each other, libraries
// never log through logrus, and policy does no I/O. It runs `go list`, so it
// sees exactly what the build sees.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tagwatch/tagwatch"

// deps returns the transitive non-test imports of pkg.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestLeafPackagesAreIndependent(t *testing.T) {
	// writeback and gitrepo are distinct leaves: the path of a
	// package is compared whole, so a leaf may import only itself, not its
	// parent nor a package below it.
	leaves := []string{"policy", "registry", "writeback", "gitrepo"}
	for _, leaf := range leaves {
		t.Run(leaf, func(t *testing.T) {
			for _, d := range deps(t, leaf) {
				if strings.HasPrefix(d, module+"/") && d != module+"/"+leaf {
					t.Errorf("%s imports %s: leaf packages never import other tagwatch packages", leaf, d)
				}
			}
			// Dependencies may log (docker/cli does); our libraries do not.
			for _, d := range imports(t, leaf) {
				if strings.HasPrefix(d, "github.com/sirupsen/logrus") || d == "log" || d == "log/slog" {
					t.Errorf("%s imports %s: libraries return errors, they do not log", leaf, d)
				}
			}
		})
	}
}

// imports returns the direct non-test imports of pkg.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestPolicyIsPure(t *testing.T) {
	forbidden := []string{"os", "net", "net/http", "io/fs", "io/ioutil", "log", "log/slog", "os/exec", "syscall", "path/filepath"}
	for _, d := range imports(t, "policy") {
		for _, f := range forbidden {
			if d == f {
				t.Errorf("policy imports %s: it must stay free of I/O", d)
			}
		}
	}
	for _, d := range deps(t, "policy") {
		if strings.Contains(d, ".") && !strings.HasPrefix(d, "github.com/Masterminds/semver/v3") && !strings.HasPrefix(d, module+"/policy") {
			t.Errorf("policy depends on %s: only the standard library and Masterminds/semver are allowed", d)
		}
	}
}
