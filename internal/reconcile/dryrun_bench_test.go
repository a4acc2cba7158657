package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// BenchmarkDryRunCycle is a dry-run cycle with one change in a repository
// of 10,000 files: the dry run writes and puts back the files of the
// change (Repo.Try) rather than copying the tree. -benchtime=20x on 2
// shared cores: 8.4-9.0 s/op with a copy of the tree, 0.36-0.58 s/op
// with Repo.Try.
func BenchmarkDryRunCycle(b *testing.B) {
	reg := newTestRegistry(b)
	bare := testgit.NewBareHistory(b, 10000, 1)
	c := testgit.NewClone(b, bare)
	c.Write("envs/prod/kustomization.yaml", reg.expand(kustomization("team/app", "1.0.0")))
	c.Git("add", "-A")
	c.Git("commit", "-qm", "prod")
	c.Git("push", "-q", "origin", "HEAD:main")
	reg.push("team/app", "1.0.0", "1.1.0")
	cfg := parseConfig(b, strings.ReplaceAll(reg.expand(`git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - {name: prod, path: envs/prod, images: [{image: REG/team/app, kustomizeName: team/app}]}
`), "GIT", "file://"+bare))
	l, err := newLoop(b, cfg, reg.client(), WithCacheDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := l.Cycle(context.Background(), DryRun(true))
		if err != nil || len(rep.Changes) != 1 {
			b.Fatalf("dry run: %+v, %v", rep, err)
		}
	}
}
