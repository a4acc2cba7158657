package gitrepo

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// The benchmark of issue 4: a repository of 10,000 files and 5,000 commits,
// 100 environment edits in one cycle (one fetch, 100 commits, one push) on
// loopback. Another writer pushes between cycles, so each fetch has work.
//
//	go test -run '^$' -bench 'Publish|OpenClone' -benchtime 10x ./gitrepo/
const (
	benchFiles   = 10_000
	benchCommits = 5_000
	benchEdits   = 100
)

var benchTag = regexp.MustCompile(`(?m)^  tag: .*$`)

// benchEdit sets the tag of one environment file, the way a Kustomize or
// Helm target edit would: read, change one scalar, write.
func benchEdit(file, tag string) Edit {
	return Edit{Name: file, Apply: func(_ context.Context, dir string) (string, []string, error) {
		p := filepath.Join(dir, filepath.FromSlash(file))
		b, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		out := benchTag.ReplaceAll(b, []byte("  tag: "+tag))
		if string(out) == string(b) {
			return "", nil, nil
		}
		if err := os.WriteFile(p, out, 0o644); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("tagwatch(%s): app -> %s", filepath.Base(filepath.Dir(file)), tag), []string{file}, nil
	}}
}

func benchRemote(b *testing.B, transport string) (url string, auth Auth, bare string, srv *testgit.HTTPServer) {
	b.Helper()
	bare = testgit.NewBareHistory(b, benchFiles, benchCommits)
	if transport == "file" {
		return "file://" + bare, Auth{}, bare, nil
	}
	srv = testgit.ServeHTTP(b, bare)
	return srv.URL, Auth{Username: srv.Username, Password: srv.Password}, bare, srv
}

func BenchmarkPublish(b *testing.B) {
	for _, transport := range []string{"http", "file"} {
		b.Run(transport, func(b *testing.B) {
			ctx := context.Background()
			url, auth, bare, srv := benchRemote(b, transport)
			r, err := Open(ctx, url, WithCacheDir(b.TempDir()), WithAuth(auth), WithBranch("main"))
			if err != nil {
				b.Fatal(err)
			}
			foreign := testgit.NewClone(b, bare)
			var fetches, pushes int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if _, err := foreign.CommitAndPush("foreign.txt", strconv.Itoa(i), "foreign"); err != nil {
					b.Fatal(err)
				}
				if srv != nil {
					srv.ResetStats()
				}
				edits := make([]Edit, benchEdits)
				for j := range edits {
					edits[j] = benchEdit(testgit.LargePath(j*(benchFiles/benchEdits)), fmt.Sprintf("2.%d.%d", i, j))
				}
				b.StartTimer()

				if err := r.Sync(ctx); err != nil { // the cycle's one fetch
					b.Fatal(err)
				}
				res, err := r.Publish(ctx, edits)
				if err != nil {
					b.Fatal(err)
				}

				b.StopTimer()
				if !res.Pushed || res.Attempts != 1 {
					b.Fatalf("Pushed %v after %d attempts", res.Pushed, res.Attempts)
				}
				for _, e := range res.Edits {
					if e.Err != nil || e.Commit == "" {
						b.Fatalf("edit %s: commit %q, %v", e.Name, e.Commit, e.Err)
					}
				}
				if srv != nil {
					st := srv.Stats()
					fetches, pushes = fetches+st.UploadPack, pushes+st.ReceivePack
				}
				b.StartTimer()
			}
			b.StopTimer()
			if got := testgit.Head(b, bare, "main"); got != r.Head() {
				b.Fatalf("remote head %s, ours %s", got, r.Head())
			}
			if srv != nil {
				b.ReportMetric(float64(fetches)/float64(b.N), "fetches/op")
				b.ReportMetric(float64(pushes)/float64(b.N), "pushes/op")
			}
			b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
		})
	}
}

// BenchmarkOpenClone measures the first Open of a cycle-less process: a
// clone of the 10,000-file, 5,000-commit repository into an empty cache,
// shallow (the default) and full.
func BenchmarkOpenClone(b *testing.B) {
	url, auth, _, _ := benchRemote(b, "http")
	for _, depth := range []int{1, 0} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Open(context.Background(), url, WithCacheDir(b.TempDir()), WithAuth(auth),
					WithBranch("main"), WithDepth(depth)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
		})
	}
}

// peakRSSMiB is the peak resident set size of this process so far (VmHWM).
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
