package reconcile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// gatedHistory makes a bare repository of commits commits for pairs
// staging/production environments: the first commit adds every
// kustomization at 1.0.0; each further commit is tagwatch moving one
// staging environment (round robin) between 1.0.0 and 1.1.0 of digest,
// with its Tagwatch-Update trailer, so each staging environment's latest
// change lies at another depth.
func gatedHistory(tb testing.TB, pairs, commits int, image, digest string) string {
	tb.Helper()
	bare := filepath.Join(tb.TempDir(), "history.git")
	testgit.Git(tb, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	cmd := exec.Command(testgit.GitPath(tb), "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(in, 1<<20)
	data := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	const when = int64(1_700_000_000)
	for c := range commits {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter tagwatch <tw@example.com> %d +0000\n", when+int64(c))
		if c == 0 {
			data("seed")
			for p := range pairs {
				for _, env := range []string{"staging", "production"} {
					fmt.Fprintf(w, "M 100644 inline envs/%s-%03d/kustomization.yaml\n", env, p)
					data(kustomization("team/app", "1.0.0"))
				}
			}
			continue
		}
		p := c % pairs
		from, to := "1.0.0", "1.1.0"
		if (c/pairs)%2 == 1 {
			from, to = to, from
		}
		env := fmt.Sprintf("staging-%03d", p)
		data(audit.Message(env, []audit.Change{{Env: env, Image: image, File: "envs/" + env + "/kustomization.yaml", From: from, To: to, Digest: digest}}))
		fmt.Fprintf(w, "M 100644 inline envs/%s/kustomization.yaml\n", env)
		data(kustomization("team/app", to))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("git fast-import: %v: %s", err, out.String())
	}
	return bare
}

// BenchmarkGatedCycle: a repository of 5,000 commits with 100 staging and
// 100 gated production environments; one cycle in which every production
// environment's gate reads staging's history. "first" includes deepening
// the shallow working copy; "again" is the steady state. Compare with
// BenchmarkGatedCycle/ungated, the same cycle without gates, for the
// gates' extra cost, and with one commit of history for the cost of
// reading it (rollbacks read it whenever an image would move; cycles here
// are dry runs, so every cycle would move 200 images). Fetches are counted
// by the smart HTTP server.
//
//	go test -run '^$' -bench GatedCycle -benchtime 3x ./internal/reconcile/
func BenchmarkGatedCycle(b *testing.B) {
	const pairs, commits = 100, 5000
	for _, bc := range []struct {
		name  string
		gated bool
		limit int
	}{{"gated", true, 0}, {"ungated", false, 0}, {"ungated, 1 commit of history", false, 1}} {
		gated := bc.gated
		b.Run(bc.name, func(b *testing.B) {
			reg := newTestRegistry(b)
			digest := reg.push("team/app", "1.0.0", "1.1.0")
			reg.push("team/app", "1.2.0") // production's candidate: staging never ran it
			srv := testgit.ServeHTTP(b, gatedHistory(b, pairs, commits, reg.host+"/team/app", digest))
			b.Setenv("BENCH_GIT_TOKEN", srv.Password)
			var cfg strings.Builder
			fmt.Fprintf(&cfg, "git: {url: %s, branch: main, auth: {username: git, passwordEnv: BENCH_GIT_TOKEN}}\nregistries: [{prefix: %s, insecure: true, rateLimit: 10000}]\nenvironments:\n", srv.URL, reg.host)
			for p := range pairs {
				fmt.Fprintf(&cfg, "  - name: staging-%03d\n    path: envs/staging-%03d\n    images: [{image: %s/team/app, kustomizeName: team/app, constraint: '~1.0 || ~1.1'}]\n", p, p, reg.host)
				gate := ""
				if gated {
					gate = fmt.Sprintf("    promotion: {from: staging-%03d}\n", p)
				}
				fmt.Fprintf(&cfg, "  - name: production-%03d\n    path: envs/production-%03d\n%s    images: [{image: %s/team/app, kustomizeName: team/app}]\n", p, p, gate, reg.host)
			}
			opts := []Option{WithCacheDir(b.TempDir())}
			if bc.limit > 0 {
				opts = append(opts, WithHistoryLimit(bc.limit))
			}
			loop, err := newLoop(b, parseConfig(b, cfg.String()), reg.client(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			srv.ResetStats()
			start := time.Now()
			rep, err := loop.Cycle(ctx, DryRun(true))
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("first cycle: %s, %d held, %d changes, %d errors; fetches %+v", time.Since(start).Round(time.Millisecond), len(rep.Held), len(rep.Changes), len(rep.Errors), srv.Stats())
			srv.ResetStats()
			b.ResetTimer()
			for b.Loop() {
				if _, err := loop.Cycle(ctx, DryRun(true)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.Logf("steady cycles: fetches %+v over %d cycles", srv.Stats(), b.N)
		})
	}
}
