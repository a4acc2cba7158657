package testgitea_test

import (
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgitea"
)

// BenchmarkStart measures starting Gitea (migrate, the administrator and
// its token, then the web server until /api/healthz answers) and stopping
// it.
func BenchmarkStart(b *testing.B) {
	bin, err := testgitea.FindBinary()
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		s, err := testgitea.Run(bin, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		s.Stop()
	}
}
