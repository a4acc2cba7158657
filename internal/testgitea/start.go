package testgitea

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// Start runs a Gitea of its own for t, stopped when t ends: for a package
// whose TestMain serves another Shared server already. It skips t (fails
// it under CI=true) when gitea is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := findBinary(t)
	s, err := Run(bin, t.TempDir())
	if err != nil {
		t.Fatalf("testgitea: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testgitea: server log:\n%s", s.Logs())
		}
		s.Stop()
	})
	return s
}

// shared is the server the tests of one test binary share.
var shared struct {
	once sync.Once
	s    *Server
	dir  string
	err  error
}

// Shared returns the Gitea shared by the tests of this test binary,
// starting it at the first call. A package that calls Shared stops it and
// removes its files with
//
//	func TestMain(m *testing.M) { os.Exit(testgitea.Main(m)) }
//
// (without it, the server dies with the test binary but its files stay in
// the temporary directory). When t fails, the server's log is shown.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := findBinary(t)
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "testgitea-"); shared.err == nil {
			shared.s, shared.err = Run(bin, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("testgitea: %v", shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testgitea: server log:\n%s", shared.s.Logs())
		}
	})
	return shared.s
}

// Main runs the tests and then stops the Shared server, if one started,
// and removes its files. It returns m.Run's exit code.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.s != nil {
		shared.s.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

func findBinary(t testing.TB) Binary {
	t.Helper()
	bin, err := FindBinary()
	if errors.Is(err, testenv.ErrNotInstalled) {
		testenv.Missing(t, "testgitea: %v", err)
	} else if err != nil {
		t.Fatalf("testgitea: %v", err)
	}
	return bin
}
