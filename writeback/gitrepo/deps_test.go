package gitrepo

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportFence keeps gitrepo a leaf: it never imports the policy,
// registry or writeback packages (nor the command), which the reconcile loop
// composes.
func TestImportFence(t *testing.T) {
	forbidden := []string{
		"github.com/tagwatch/tagwatch/policy",
		"github.com/tagwatch/tagwatch/registry",
		"github.com/tagwatch/tagwatch/writeback",
		"github.com/tagwatch/tagwatch/cmd",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s imports %s: gitrepo must stay a leaf package", name, p)
				}
			}
		}
	}
}
