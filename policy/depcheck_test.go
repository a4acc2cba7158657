package policy_test

import (
	"go/build"
	"testing"
)

// TestImports fences the package: the policy is pure, so its (non-test)
// imports are a few standard packages without I/O, and the semver library.
// Growing this list is a design decision, not a convenience.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"errors": true, "fmt": true, "path": true, "regexp": true, "slices": true,
		"strconv": true, "strings": true, "time": true,
		"runtime": true, "sync": true, // GOMAXPROCS and a WaitGroup: Select's parallel collection
		"encoding/binary":                  true, // order-preserving sort keys
		"github.com/Masterminds/semver/v3": true,
	}
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if !allowed[imp] {
			t.Errorf("policy imports %q: it must stay pure (no I/O, logging, YAML or git); see doc.go", imp)
		}
	}
}
