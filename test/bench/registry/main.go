// Command registry measures whole-process `tagwatch test` against a local
// registry on 127.0.0.1, behind a proxy that delays every request
// (-latency, default 50 ms: a registry across a network) and counts the
// requests by kind: go-containerregistry's registry (via internal/testreg;
// the whole tag list when asked without ?n=, pages with Link when asked
// ?n=, or pages of -page-size on its own) or CNCF distribution 2.8
// (-registry distribution: /usr/bin/docker-registry, one page whatever the
// size), seeded with
//
//	bench/semver  10,300 semver tags (one image)
//	bench/builds  300 sha-* tags, each a distinct image with its own created time
//
// and reports, per scenario, wall time, peak RSS and CPU (from
// /usr/bin/time -v) and the requests the registry saw, by kind.
//
//	go run ./test/bench/registry                          # build tagwatch, measure, print a table
//	go run ./test/bench/registry -runs 3                  # best of 3 per scenario
//	go run ./test/bench/registry -tagwatch /tmp/old -tag-ttl 0   # another build (one without tagTTL)
//	go run ./test/bench/registry -page-size 100           # a registry that pages on its own (Docker Hub, ECR)
//	go run ./test/bench/registry -serve                   # seed, print the URL, serve until Ctrl-C
//
// Scenarios run with tagwatch's default rate limit unless -rate sets one.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"golang.org/x/sync/errgroup"
)

func main() {
	bin := flag.String("tagwatch", "", "tagwatch binary (default: go build ./cmd/tagwatch into a temporary directory)")
	serve := flag.Bool("serve", false, "seed the registry, print its URL and serve until interrupted")
	runs := flag.Int("runs", 1, "runs per scenario; the fastest is reported")
	semverTags := flag.Int("semver-tags", 10300, "tags of bench/semver")
	buildTags := flag.Int("build-tags", 300, "tags (images) of bench/builds")
	kind := flag.String("registry", "inprocess", "inprocess (ggcr) or distribution (/usr/bin/docker-registry)")
	latency := flag.Duration("latency", 50*time.Millisecond, "delay the proxy adds to every request")
	pageSize := flag.Int("page-size", 0, "inprocess: tags per tag list answer, with a Link, when the client asks no ?n= (0: every tag); ?n= is honoured with a Link")
	rate := flag.Float64("rate", 0, "registries[].rateLimit of the scenarios' config (0: leave it out, tagwatch's default)")
	extra := flag.String("registry-config", "", "more YAML lines for the registries entry of every scenario's config")
	ttl := flag.Duration("tag-ttl", 10*time.Minute, "registries[].tagTTL of the \"warm, tagTTL\" scenario (0: leave the scenario out, for binaries without the setting)")
	only := flag.String("only", "", "run only the scenarios whose name contains this")
	flag.Parse()
	log.SetFlags(0)

	tmp, err := os.MkdirTemp("", "tagwatch-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	var (
		upstream string
		opts     []remote.Option
		tagMany  func(repo, src string, tags []string) error
	)
	switch *kind {
	case "inprocess":
		h := testreg.NewHandler(testreg.Options{DefaultPageSize: *pageSize})
		srv := httptest.NewServer(h)
		defer srv.Close()
		upstream = srv.URL
		tagMany = func(repo, src string, tags []string) error { return h.Tag(repo, src, tags...) }
	case "distribution":
		dir := filepath.Join(tmp, "registry")
		os.Mkdir(dir, 0o755)
		tg, stop, err := testreg.RunDistribution("/usr/bin/docker-registry", "", dir, testreg.DistributionOptions{})
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
		upstream, opts = tg.URL, tg.RemoteOptions()
		tagMany = func(repo, src string, tags []string) error { return tagOverHTTP(tg, repo, src, tags) }
	default:
		log.Fatalf("-registry %q: want inprocess or distribution", *kind)
	}
	start := time.Now()
	// distribution 2.8 on a filesystem mixes up concurrent image pushes.
	jobs := map[string]int{"inprocess": 8, "distribution": 1}[*kind]
	if err := seed(strings.TrimPrefix(upstream, "http://"), opts, tagMany, *semverTags, *buildTags, jobs); err != nil {
		log.Fatal(err)
	}
	proxy, err := testreg.NewDelayProxy(upstream, *latency, nil)
	if err != nil {
		log.Fatal(err)
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")
	log.Printf("%s registry seeded in %v, behind a proxy adding %v per request at %s: %s/bench/semver (%d tags), %s/bench/builds (%d images)",
		*kind, time.Since(start).Round(time.Millisecond), *latency, front.URL, host, *semverTags, host, *buildTags)
	if *serve {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		<-ctx.Done()
		return
	}

	if *bin == "" {
		*bin = filepath.Join(tmp, "tagwatch")
		build := exec.Command("go", "build", "-trimpath", "-o", *bin, "./cmd/tagwatch")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			log.Fatalf("building tagwatch: %v", err)
		}
	}
	settings := *extra
	if *rate > 0 {
		settings = fmt.Sprintf("    rateLimit: %v\n", *rate) + settings
	}
	if settings != "" && !strings.HasSuffix(settings, "\n") {
		settings += "\n"
	}
	plain := writeConfig(filepath.Join(tmp, "plain.yaml"), host, settings)
	immutable := writeConfig(filepath.Join(tmp, "immutable.yaml"), host, settings+"    immutableTags: true\n")
	fresh := writeConfig(filepath.Join(tmp, "fresh.yaml"), host, settings+fmt.Sprintf("    tagTTL: %v\n", *ttl))

	type scenario struct {
		name  string
		args  []string
		fresh bool // empty the cache first
	}
	semver := []string{"test", host + "/bench/semver", "--constraint", ">=0", "--config", plain}
	builds := []string{"test", host + "/bench/builds", "--strategy", "newest-build", "--allow-tags", "^sha-"}
	scenarios := []scenario{
		{fmt.Sprintf("semver, %d tags", *semverTags), semver, true},
		{fmt.Sprintf("semver, %d tags, again", *semverTags), semver, false},
		{fmt.Sprintf("newest-build, %d tags, cold", *buildTags), append(slices.Clone(builds), "--config", plain), true},
		{fmt.Sprintf("newest-build, %d tags, warm", *buildTags), append(slices.Clone(builds), "--config", plain), false},
		{fmt.Sprintf("newest-build, %d tags, warm, immutableTags", *buildTags), append(slices.Clone(builds), "--config", immutable), false},
	}
	if *ttl > 0 {
		scenarios = append(scenarios, scenario{fmt.Sprintf("newest-build, %d tags, warm, tagTTL %v", *buildTags, *ttl), append(slices.Clone(builds), "--config", fresh), false})
	}
	cache := filepath.Join(tmp, "cache")
	fmt.Printf("%-46s %7s %9s %11s  %s\n", "scenario", "wall", "peak RSS", "user+sys", "requests / picked")
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		var best *result
		for range *runs {
			if sc.fresh {
				os.RemoveAll(cache)
			}
			before := proxy.Counts()
			r, err := measure(*bin, cache, sc.args)
			if err != nil {
				log.Fatalf("%s: %v", sc.name, err)
			}
			r.count = proxy.Counts().Sub(before)
			if best == nil || r.wall < best.wall {
				best = r
			}
		}
		fmt.Printf("%-46s %6.2fs %5.0f MiB %5.2f+%.2fs  %s / %s\n", sc.name, best.wall.Seconds(), float64(best.rssKiB)/1024,
			best.user.Seconds(), best.sys.Seconds(), best.count, best.picked)
	}
}

type result struct {
	wall, user, sys time.Duration
	rssKiB          int
	picked          string
	count           testreg.Counts // at the proxy
}

var (
	wallRE = regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)`)
	rssRE  = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	userRE = regexp.MustCompile(`User time \(seconds\): (\d+(?:\.\d+)?)`)
	sysRE  = regexp.MustCompile(`System time \(seconds\): (\d+(?:\.\d+)?)`)
	tagRE  = regexp.MustCompile(`"tag":"([^"]*)"`)
)

// measure runs the tagwatch command under /usr/bin/time -v.
func measure(bin, cache string, args []string) (*result, error) {
	cmd := exec.Command("/usr/bin/time", append([]string{"-v", bin}, append(args, "-o", "json")...)...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "DOCKER_CONFIG="+filepath.Join(cache, "no-docker-config"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	m := wallRE.FindStringSubmatch(stderr.String())
	r := rssRE.FindStringSubmatch(stderr.String())
	if m == nil || r == nil {
		return nil, fmt.Errorf("no /usr/bin/time figures in:\n%s", stderr.String())
	}
	h, _ := strconv.Atoi(m[1])
	mins, _ := strconv.Atoi(m[2])
	secs, _ := strconv.ParseFloat(m[3], 64)
	res := &result{wall: time.Duration((float64(h*3600+mins*60) + secs) * float64(time.Second))}
	res.rssKiB, _ = strconv.Atoi(r[1])
	for re, d := range map[*regexp.Regexp]*time.Duration{userRE: &res.user, sysRE: &res.sys} {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			s, _ := strconv.ParseFloat(m[1], 64)
			*d = time.Duration(s * float64(time.Second))
		}
	}
	if t := tagRE.FindSubmatch(stdout.Bytes()); t != nil {
		res.picked = string(t[1])
	}
	return res, nil
}

// writeConfig writes a tagwatch.yaml at p whose only purpose is the
// settings of the local registry: settings are lines of its entry.
func writeConfig(p, host, settings string) string {
	cfg := fmt.Sprintf(`git:
  url: %s
registries:
  - prefix: %s
%senvironments:
  - name: bench
    path: envs/bench
    images:
      - image: %s/bench/builds
`, filepath.Join(filepath.Dir(p), "unused.git"), host, settings, host)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}
	return p
}

// seed fills the two repositories.
func seed(host string, opts []remote.Option, tagMany func(repo, src string, tags []string) error, semverTags, buildTags, jobs int) error {
	base, err := random.Image(512, 1)
	if err != nil {
		return err
	}
	push := func(repo, tag string, created time.Time) error {
		img, err := mutate.CreatedAt(base, v1.Time{Time: created})
		if err != nil {
			return err
		}
		ref, err := name.NewTag(host + "/" + repo + ":" + tag)
		if err != nil {
			return err
		}
		return remote.Write(ref, img, opts...)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := push("bench/semver", "0.0.0", t0); err != nil {
		return err
	}
	tags := make([]string, 0, semverTags)
	for i := 1; i < semverTags; i++ {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10))
	}
	if err := tagMany("bench/semver", "0.0.0", tags); err != nil {
		return err
	}
	g := errgroup.Group{}
	g.SetLimit(jobs)
	for i := range buildTags {
		g.Go(func() error {
			return push("bench/builds", fmt.Sprintf("sha-%07x", i*7919), t0.Add(time.Duration(i)*time.Minute))
		})
	}
	return g.Wait()
}

// tagOverHTTP puts the manifest behind repo:src under tags, 16 at a time.
func tagOverHTTP(tg *testreg.Target, repo, src string, tags []string) error {
	ref, err := name.NewTag(tg.Repo(repo) + ":" + src)
	if err != nil {
		return err
	}
	desc, err := remote.Get(ref, tg.RemoteOptions()...)
	if err != nil {
		return err
	}
	pusher, err := remote.NewPusher(tg.RemoteOptions()...)
	if err != nil {
		return err
	}
	g := errgroup.Group{}
	g.SetLimit(16)
	for _, tag := range tags {
		g.Go(func() error {
			dst, err := name.NewTag(tg.Repo(repo) + ":" + tag)
			if err != nil {
				return err
			}
			return pusher.Put(context.Background(), dst, desc)
		})
	}
	return g.Wait()
}
