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

// packages lists every non-test package of the module with its direct
// imports.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs[strings.TrimPrefix(f[0], module+"/")] = f[1:]
	}
	return pkgs
}

// isTestHelper reports whether pkg (relative to the module) is a package
// that only tests use: internal/test*, test/….
func isTestHelper(pkg string) bool {
	return strings.HasPrefix(pkg, "internal/test") || strings.HasPrefix(pkg, "test/")
}

// TestProductLinksNoTestHelpers: the tagwatch binary never carries the
// test servers and fixtures of internal/test*.
func TestProductLinksNoTestHelpers(t *testing.T) {
	for _, d := range deps(t, "cmd/tagwatch") {
		if rel, ok := strings.CutPrefix(d, module+"/"); ok && isTestHelper(rel) {
			t.Errorf("cmd/tagwatch links %s: test helpers stay out of the product", d)
		}
	}
}

// TestHeavyDependenciesStayInTheirPlace fences the dependencies that would
// otherwise spread: cobra is the CLI's, Kubernetes is one package's (test
// helpers aside), Prometheus is never a leaf's, and config knows nothing of
// registries, YAML edits or git.
func TestHeavyDependenciesStayInTheirPlace(t *testing.T) {
	const kubePackage = "internal/kube"
	leaves := map[string]bool{"policy": true, "registry": true, "writeback": true, "gitrepo": true}
	for pkg, imps := range packages(t) {
		for _, imp := range imps {
			switch {
			case strings.HasPrefix(imp, "github.com/spf13/cobra") && pkg != "cmd/tagwatch":
				t.Errorf("%s imports %s: only cmd/tagwatch uses cobra", pkg, imp)
			case strings.HasPrefix(imp, "k8s.io/") && pkg != kubePackage && !isTestHelper(pkg):
				t.Errorf("%s imports %s: only %s talks to Kubernetes", pkg, imp, kubePackage)
			case strings.HasPrefix(imp, "github.com/prometheus/") && leaves[pkg]:
				t.Errorf("%s imports %s: leaves report through return values, not metrics", pkg, imp)
			}
		}
	}
	for _, d := range deps(t, "config") {
		for _, forbidden := range []string{"registry", "writeback", "gitrepo", "internal/"} {
			if strings.HasPrefix(d, module+"/"+forbidden) {
				t.Errorf("config depends on %s: it loads and validates, and knows nothing of registries, edits or git", d)
			}
		}
	}
}
