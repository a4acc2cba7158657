// Command cycle measures one reconcile cycle of a large configuration:
// -envs environments × -images images on one in-process registry (ggcr's
// pkg/registry on 127.0.0.1) and one local bare git repository, through
// the same reconcile loop as `tagwatch run`. It prints the time and memory
// of a first cycle that updates every image (one commit per environment,
// one push), an idle cycle, and a cycle after one new tag per repository.
//
//	go run ./test/bench/cycle -envs 100 -images 5 -tags 200
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/gitseed"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/registry"
)

func main() {
	envs := flag.Int("envs", 100, "environments")
	images := flag.Int("images", 5, "images per environment (one repository each, shared by all environments)")
	tags := flag.Int("tags", 200, "tags per repository")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the cycles to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cycle:", err)
			os.Exit(1)
		}
		defer f.Close()
		profile = f
	}
	if err := run(*envs, *images, *tags); err != nil {
		fmt.Fprintln(os.Stderr, "cycle:", err)
		os.Exit(1)
	}
}

// profile receives a CPU profile of the cycles when set.
var profile io.Writer

func run(envs, images, tags int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tagwatch-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	start := time.Now()
	for i := range images {
		if err := pushTags(ctx, fmt.Sprintf("%s/team/app%d", host, i), tagNames(tags)...); err != nil {
			return err
		}
	}
	bare := filepath.Join(dir, "deploy.git")
	if err := seedRepo(bare, filepath.Join(dir, "seed"), envs, images); err != nil {
		return err
	}
	cfg, err := config.Parse("bench.yaml", []byte(configYAML(bare, host, envs, images)))
	if err != nil {
		return err
	}
	fmt.Printf("setup: %d environments × %d images, %d tags per repository, in %s\n", envs, images, tags, time.Since(start).Round(time.Millisecond))

	client, err := registry.New(registry.WithHosts(reconcile.Hosts(cfg)...), registry.WithCacheDir(filepath.Join(dir, "cache", "registry")))
	if err != nil {
		return err
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	rec, err := reconcile.New(cfg, client, reconcile.WithLogger(logrus.NewEntry(l)), reconcile.WithCacheDir(filepath.Join(dir, "cache", "git")))
	if err != nil {
		return err
	}

	cycles := []struct {
		name   string
		before func() error
	}{
		{"first (every image moves)", nil},
		{"idle (nothing new)", nil},
		{"one new tag per repository", func() error {
			for i := range images {
				if err := pushTags(ctx, fmt.Sprintf("%s/team/app%d", host, i), "9.0.0"); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, c := range cycles {
		if c.before != nil {
			if err := c.before(); err != nil {
				return err
			}
		}
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		peak := sampleHeap()
		cpu0 := cpuTime()
		start := time.Now()
		rep, err := rec.Cycle(ctx)
		took := time.Since(start)
		cpu := cpuTime() - cpu0
		maxHeap := peak()
		if err != nil {
			return err
		}
		var m1 runtime.MemStats
		runtime.ReadMemStats(&m1)
		fmt.Printf("cycle %-28s wall %8s  cpu %8s  changes %4d  commits %3d  errors %d  allocated %6.1f MiB  peak heap %6.1f MiB\n",
			c.name+":", took.Round(time.Millisecond), cpu.Round(time.Millisecond), len(rep.Changes), len(rep.Commits), len(rep.Errors),
			mib(m1.TotalAlloc-m0.TotalAlloc), mib(maxHeap))
		if len(rep.Errors) > 0 {
			return fmt.Errorf("first error: %+v", rep.Errors[0])
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("peak RSS of the process (registry and setup included): %.1f MiB\n", float64(ru.Maxrss)/1024)
	}
	st := client.Stats()
	fmt.Printf("registry requests: list %d, head %d, manifest %d, blob %d\n", st.List, st.Head, st.Manifest, st.Blob)
	return nil
}

// cpuTime is the user and system CPU time of the process so far (the
// in-process registry's included), which a busy machine distorts less
// than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// sampleHeap samples the heap in use until the returned func is called,
// which returns the maximum seen.
func sampleHeap() func() uint64 {
	var mu sync.Mutex
	var maxHeap uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			maxHeap = max(maxHeap, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return maxHeap
	}
}

// tagNames are n semver tags with a release candidate every tenth.
func tagNames(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		t := fmt.Sprintf("1.%d.%d", i/10, i%10)
		if i%10 == 9 {
			t = fmt.Sprintf("1.%d.0-rc.1", i/10+1)
		}
		out = append(out, t)
	}
	return out
}

// pushTags pushes one small image under every tag of repo.
func pushTags(ctx context.Context, repo string, tags ...string) error {
	img, err := random.Image(256, 1)
	if err != nil {
		return err
	}
	first, err := name.NewTag(repo+":"+tags[0], name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(first, img, remote.WithContext(ctx)); err != nil {
		return err
	}
	for _, t := range tags[1:] {
		ref, err := name.NewTag(repo+":"+t, name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Tag(ref, img, remote.WithContext(ctx)); err != nil {
			return err
		}
	}
	return nil
}

func configYAML(bare, host string, envs, images int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "git: {url: %s, branch: main}\nregistries: [{prefix: %q, insecure: true}]\nenvironments:\n", bare, host)
	for e := range envs {
		constraint := ">=1.0.0"
		if e%2 == 0 {
			constraint = ">=1.0.0-0"
		}
		fmt.Fprintf(&b, "  - name: env%03d\n    path: envs/env%03d\n    images:\n", e, e)
		for i := range images {
			fmt.Fprintf(&b, "      - {image: %s/team/app%d, kustomizeName: app%d, constraint: %q}\n", host, i, i, constraint)
		}
	}
	return b.String()
}

// seedRepo makes the bare repository with one kustomization per environment.
func seedRepo(bare, scratch string, envs, images int) error {
	for e := range envs {
		var b strings.Builder
		b.WriteString("resources:\n  - ../../base\nimages:\n")
		for i := range images {
			fmt.Fprintf(&b, "  - name: app%d\n    newTag: 0.1.0\n", i)
		}
		p := filepath.Join(scratch, "envs", fmt.Sprintf("env%03d", e), "kustomization.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return gitseed.Init(bare, scratch, "seed", object.Signature{Name: "bench", Email: "bench@example.com"})
}
