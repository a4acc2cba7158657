// Command cycle measures reconcile cycles of a large configuration:
// -repos git repositories (local bare remotes) × -envs environments each ×
// -images images each, drawn from -pool image repositories on one
// in-process registry (ggcr's pkg/registry on 127.0.0.1), through the same
// reconcile loop as `tagwatch run`. It prints the time, CPU and memory,
// registry requests, git fetches and pushes of a first cycle that updates
// every image (one commit per environment, one push per repository), an
// idle cycle, a cycle after one new tag per image repository, and a cycle
// triggered for one image repository (which must touch only the git
// repositories watching it). -latency puts a proxy that delays every
// request in front of the registry (a registry across a network); the
// requests it saw are printed by kind.
//
//	go run ./test/bench/cycle -repos 20 -envs 10 -images 5 -pool 100 -tags 200
//	go run ./test/bench/cycle -repos 1 -envs 200 -images 5 -pool 5 -tags 5000 -latency 50ms  # issue 13: 1,000 targets
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
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/gitseed"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

func main() {
	repos := flag.Int("repos", 1, "git repositories")
	envs := flag.Int("envs", 100, "environments per git repository")
	images := flag.Int("images", 5, "images per environment")
	pool := flag.Int("pool", 0, "image repositories in all; the images of git repository r are app(r·images+i) mod pool (default: -images, every environment watches the same ones)")
	tags := flag.Int("tags", 200, "tags per image repository")
	rate := flag.Float64("rate", 0, "registries[].rateLimit of the config (0: tagwatch's default)")
	latency := flag.Duration("latency", 0, "delay a proxy in front of the registry adds to every request tagwatch makes")
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
	if *pool == 0 {
		*pool = *images
	}
	if err := run(shape{*repos, *envs, *images, *pool, *tags, *rate, *latency}); err != nil {
		fmt.Fprintln(os.Stderr, "cycle:", err)
		os.Exit(1)
	}
}

// profile receives a CPU profile of the cycles when set.
var profile io.Writer

// shape is the size of the benchmark.
type shape struct {
	repos, envs, images, pool, tags int
	rate                            float64
	latency                         time.Duration
}

// image is the j-th image of git repository r.
func (sh shape) image(host string, r, j int) string {
	return fmt.Sprintf("%s/team/app%d", host, (r*sh.images+j)%sh.pool)
}

func run(sh shape) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tagwatch-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	upstream := strings.TrimPrefix(srv.URL, "http://")
	start := time.Now()
	for i := range sh.pool {
		if err := pushTags(ctx, fmt.Sprintf("%s/team/app%d", upstream, i), tagNames(sh.tags)...); err != nil {
			return err
		}
	}
	// tagwatch talks to the registry through a proxy that delays every
	// answer and counts the requests; the bench pushes past it.
	proxy, err := testreg.NewDelayProxy(srv.URL, sh.latency, nil)
	if err != nil {
		return err
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")
	var bares []string
	for r := range sh.repos {
		bare := filepath.Join(dir, fmt.Sprintf("deploy%02d.git", r))
		if err := seedRepo(bare, filepath.Join(dir, fmt.Sprintf("seed%02d", r)), sh.envs, sh.images); err != nil {
			return err
		}
		bares = append(bares, bare)
	}
	cfg, err := config.Parse("bench.yaml", []byte(configYAML(bares, host, sh)))
	if err != nil {
		return err
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("setup: %d repositories × %d environments × %d images over %d image repositories, %d tags each, %v per request, in %s\n",
		sh.repos, sh.envs, sh.images, sh.pool, sh.tags, sh.latency, time.Since(start).Round(time.Millisecond))

	client, err := registry.New(registry.WithHosts(set.Hosts...), registry.WithCacheDir(filepath.Join(dir, "cache", "registry")))
	if err != nil {
		return err
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	gits := &gitCounter{}
	obs := &lastSummary{}
	loop, err := reconcile.New(client, reconcile.Static(set.Plans), reconcile.WithLogger(logrus.NewEntry(l)),
		reconcile.WithCacheDir(filepath.Join(dir, "cache", "git")), reconcile.WithOpener(gits.open), reconcile.WithObserver(obs))
	if err != nil {
		return err
	}

	triggered := fmt.Sprintf("%s/team/app%d", host, sh.pool/2)
	push := func(repo int, tags ...string) error {
		return pushTags(ctx, fmt.Sprintf("%s/team/app%d", upstream, repo), tags...)
	}
	cycles := []struct {
		name   string
		before func() error
		opts   []reconcile.CycleOption
	}{
		{"first (every image moves)", nil, nil},
		{"idle (nothing new)", nil, nil},
		{"one new tag per image repository", func() error {
			for i := range sh.pool {
				if err := push(i, "9.0.0"); err != nil {
					return err
				}
			}
			return nil
		}, nil},
		{"triggered: one image repository", func() error {
			return push(sh.pool/2, "9.1.0")
		}, []reconcile.CycleOption{reconcile.Only(triggered)}},
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
		st0, g0, p0 := client.Stats(), gits.snapshot(), proxy.Counts()
		peak := sampleHeap()
		cpu0 := cpuTime()
		start := time.Now()
		rep, err := loop.Cycle(ctx, c.opts...)
		took := time.Since(start)
		cpu := cpuTime() - cpu0
		maxHeap := peak()
		if err != nil {
			return err
		}
		var m1 runtime.MemStats
		runtime.ReadMemStats(&m1)
		st, g, seen := client.Stats(), gits.snapshot(), proxy.Counts().Sub(p0)
		fmt.Printf("cycle %-34s wall %8s  cpu %8s  changes %5d  commits %4d  errors %d  allocated %7.1f MiB  peak heap %6.1f MiB\n",
			c.name+":", took.Round(time.Millisecond), cpu.Round(time.Millisecond), len(rep.Changes), len(rep.Commits), len(rep.Errors),
			mib(m1.TotalAlloc-m0.TotalAlloc), mib(maxHeap))
		fmt.Printf("      %-34s registry: list %d, head %d, manifest %d, blob %d (at the registry: %s); git: repositories opened (clone or fetch) %d, pushes %d\n", "",
			st.List-st0.List, st.Head-st0.Head, st.Manifest-st0.Manifest, st.Blob-st0.Blob, seen, g-g0, len(obs.last.Pushes))
		if len(rep.Errors) > 0 {
			return fmt.Errorf("first error: %+v", rep.Errors[0])
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("peak RSS of the process (registry and setup included): %.1f MiB\n", float64(ru.Maxrss)/1024)
	}
	return nil
}

// gitCounter counts the working copies opened (each a clone or a fetch).
type gitCounter struct {
	mu sync.Mutex
	n  int
}

func (g *gitCounter) open(ctx context.Context, url string, opts ...gitrepo.Option) (reconcile.Repo, error) {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
	return reconcile.OpenGit(ctx, url, opts...)
}

func (g *gitCounter) snapshot() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// lastSummary keeps the latest cycle's summary.
type lastSummary struct{ last reconcile.Summary }

func (o *lastSummary) CycleDone(s reconcile.Summary) { o.last = s }

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

func configYAML(bares []string, host string, sh shape) string {
	var b strings.Builder
	fmt.Fprintf(&b, "git: {url: %s, branch: main}\nregistries: [{prefix: %q, insecure: true, rateLimit: %v}]\nenvironments:\n", bares[0], host, sh.rate)
	for r, bare := range bares {
		for e := range sh.envs {
			constraint := ">=1.0.0"
			if e%2 == 0 {
				constraint = ">=1.0.0-0"
			}
			fmt.Fprintf(&b, "  - name: r%02d-env%03d\n    git: {url: %s}\n    path: envs/env%03d\n    images:\n", r, e, bare, e)
			for i := range sh.images {
				fmt.Fprintf(&b, "      - {image: %s, kustomizeName: app%d, alias: app%d, constraint: %q}\n", sh.image(host, r, i), i, i, constraint)
			}
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
