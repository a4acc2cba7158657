package testkube

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// Start runs a cluster of its own for t, stopped when t ends. It skips t
// (fails it under CI=true) when etcd or kube-apiserver is not installed.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bins := findBinaries(t)
	c, err := Run(bins, t.TempDir())
	if err != nil {
		t.Fatalf("testkube: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testkube: server logs:\n%s", c.Logs())
		}
		c.Stop()
	})
	return c
}

// shared is the cluster the tests of one test binary share.
var shared struct {
	once sync.Once
	c    *Cluster
	dir  string
	err  error
}

// Shared returns the cluster shared by the tests of this test binary,
// starting it at the first call. Tests isolate themselves with Namespace.
// A package that calls Shared stops the cluster and removes its files with
//
//	func TestMain(m *testing.M) { os.Exit(testkube.Main(m)) }
//
// (without it, the servers die with the test binary but their files stay in
// the temporary directory). When t fails, the servers' logs are shown.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bins := findBinaries(t)
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "testkube-"); shared.err == nil {
			shared.c, shared.err = Run(bins, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("testkube: %v", shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testkube: server logs:\n%s", shared.c.Logs())
		}
	})
	return shared.c
}

// Main runs the tests and then stops the Shared cluster, if one started,
// and removes its files. It returns m.Run's exit code.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

func findBinaries(t testing.TB) Binaries {
	t.Helper()
	bins, err := FindBinaries()
	if errors.Is(err, testenv.ErrNotInstalled) {
		testenv.Missing(t, "testkube: %v", err)
	} else if err != nil {
		t.Fatalf("testkube: %v", err)
	}
	return bins
}
