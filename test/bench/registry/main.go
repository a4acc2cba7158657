// Command registry measures whole-process `tagwatch test` against a local
// registry on 127.0.0.1: go-containerregistry's (via internal/testreg, tag
// lists in pages of 1,000 with Link headers; the default) or CNCF
// distribution 2.8 (-registry distribution: /usr/bin/docker-registry, one
// page whatever the size), seeded with
//
//	bench/semver  10,300 semver tags (one image)
//	bench/builds  300 sha-* tags, each a distinct image with its own created time
//
// and reports, per scenario, wall time and peak RSS (from /usr/bin/time -v)
// and the requests tagwatch made (its debug log, counted at its transport).
//
//	go run ./test/bench/registry                 # build bin/tagwatch, measure, print a table
//	go run ./test/bench/registry -runs 3         # best of 3 per scenario
//	go run ./test/bench/registry -serve          # seed, print the URL, serve until Ctrl-C
//
// Scenarios run at the default politeness (20 requests/s per registry) and,
// through a --config with rateLimit: 1000, at the speed of the software.
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
	kind := flag.String("registry", "inprocess", "inprocess (ggcr, paginated) or distribution (/usr/bin/docker-registry)")
	flag.Parse()
	log.SetFlags(0)

	tmp, err := os.MkdirTemp("", "tagwatch-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	var (
		url     string
		opts    []remote.Option
		tagMany func(repo, src string, tags []string) error
	)
	switch *kind {
	case "inprocess":
		h := testreg.NewHandler(testreg.Options{PageSize: 1000})
		srv := httptest.NewServer(h)
		defer srv.Close()
		url = srv.URL
		tagMany = func(repo, src string, tags []string) error { return h.Tag(repo, src, tags...) }
	case "distribution":
		dir := filepath.Join(tmp, "registry")
		os.Mkdir(dir, 0o755)
		tg, stop, err := testreg.RunDistribution("/usr/bin/docker-registry", "", dir, testreg.DistributionOptions{})
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
		url, opts = tg.URL, tg.RemoteOptions()
		tagMany = func(repo, src string, tags []string) error { return tagOverHTTP(tg, repo, src, tags) }
	default:
		log.Fatalf("-registry %q: want inprocess or distribution", *kind)
	}
	host := strings.TrimPrefix(url, "http://")
	start := time.Now()
	// distribution 2.8 on a filesystem mixes up concurrent image pushes.
	jobs := map[string]int{"inprocess": 8, "distribution": 1}[*kind]
	if err := seed(host, opts, tagMany, *semverTags, *buildTags, jobs); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s registry %s seeded in %v: %s/bench/semver (%d tags), %s/bench/builds (%d images)",
		*kind, url, time.Since(start).Round(time.Millisecond), host, *semverTags, host, *buildTags)
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
	fast := writeConfig(filepath.Join(tmp, "fast.yaml"), host, "")
	immutable := writeConfig(filepath.Join(tmp, "immutable.yaml"), host, "    immutableTags: true\n")

	type scenario struct {
		name  string
		args  []string
		cache string // XDG_CACHE_HOME; shared between cold and warm
		fresh bool   // empty the cache first
	}
	semver := []string{"test", host + "/bench/semver", "--constraint", ">=0"}
	builds := []string{"test", host + "/bench/builds", "--strategy", "newest-build", "--allow-tags", "^sha-"}
	var scenarios []scenario
	cache := ""
	for _, rate := range []struct {
		label string
		extra []string
	}{{"20 req/s (default)", nil}, {"rateLimit 1000", []string{"--config", fast}}} {
		cache = filepath.Join(tmp, "cache-"+strconv.Itoa(len(scenarios)))
		scenarios = append(scenarios,
			scenario{fmt.Sprintf("semver, %d tags, %s", *semverTags, rate.label), append(append([]string{}, semver...), rate.extra...), cache, true},
			scenario{fmt.Sprintf("newest-build, %d tags, cold, %s", *buildTags, rate.label), append(append([]string{}, builds...), rate.extra...), cache, true},
			scenario{fmt.Sprintf("newest-build, %d tags, warm, %s", *buildTags, rate.label), append(append([]string{}, builds...), rate.extra...), cache, false},
		)
	}
	scenarios = append(scenarios, scenario{fmt.Sprintf("newest-build, %d tags, warm, immutableTags", *buildTags),
		append(append([]string{}, builds...), "--config", immutable), cache, false})
	fmt.Printf("%-48s %9s %9s %9s  %s\n", "scenario", "wall", "peak RSS", "requests", "by kind / picked")
	for _, sc := range scenarios {
		var best *result
		for range *runs {
			if sc.fresh {
				os.RemoveAll(sc.cache)
			}
			r, err := measure(*bin, sc.cache, sc.args)
			if err != nil {
				log.Fatalf("%s: %v", sc.name, err)
			}
			if best == nil || r.wall < best.wall {
				best = r
			}
		}
		fmt.Printf("%-48s %8.2fs %6.0f MiB %9s  %s / %s\n", sc.name, best.wall.Seconds(), float64(best.rssKiB)/1024,
			best.count["requests"], kinds(best.count), best.picked)
	}
}

type result struct {
	wall   time.Duration
	rssKiB int
	picked string
	count  map[string]string // from the "registry requests" debug log line
}

var (
	wallRE = regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)`)
	rssRE  = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	tagRE  = regexp.MustCompile(`"tag":"([^"]*)"`)
	logRE  = regexp.MustCompile(`\b(requests|list|head|manifest|blob|other)=(\d+)`)
)

// measure runs the tagwatch command under /usr/bin/time -v.
func measure(bin, cache string, args []string) (*result, error) {
	cmd := exec.Command("/usr/bin/time", append([]string{"-v", bin, "--log-level", "debug"}, append(args, "-o", "json")...)...)
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
	if t := tagRE.FindSubmatch(stdout.Bytes()); t != nil {
		res.picked = string(t[1])
	}
	res.count = map[string]string{}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "registry requests") {
			for _, m := range logRE.FindAllStringSubmatch(line, -1) {
				res.count[m[1]] = m[2]
			}
		}
	}
	return res, nil
}

func kinds(c map[string]string) string {
	return fmt.Sprintf("list %s, HEAD %s, manifest GET %s, blob GET %s, ping/token %s",
		c["list"], c["head"], c["manifest"], c["blob"], c["other"])
}

// writeConfig writes a tagwatch.yaml at p whose only purpose is registry
// settings: rateLimit 1000 for the local registry, and extra.
func writeConfig(p, host, extra string) string {
	cfg := fmt.Sprintf(`git:
  url: %s
registries:
  - prefix: %s
    rateLimit: 1000
%senvironments:
  - name: bench
    path: envs/bench
    images:
      - image: %s/bench/builds
`, filepath.Join(filepath.Dir(p), "unused.git"), host, extra, host)
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
