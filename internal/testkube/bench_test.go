package testkube_test

import (
	"testing"

	"github.com/tagwatch/tagwatch/internal/testkube"
)

// BenchmarkStart measures starting a cluster (etcd and kube-apiserver, until
// /readyz answers) and stopping it.
func BenchmarkStart(b *testing.B) {
	bins, err := testkube.FindBinaries()
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		c, err := testkube.Run(bins, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		c.Stop()
	}
}
