// Command registry measures whole-process `tagwatch test` against a local
// registry: go-containerregistry's registry (via internal/testreg, tag lists
// in pages of 1,000 with Link headers) on 127.0.0.1, seeded with
//
//	bench/semver  10,300 semver tags (one image)
//	bench/builds  300 sha-* tags, each a distinct image with its own created time
//
// and reports, per scenario, wall time and peak RSS (from /usr/bin/time -v)
// and the requests the registry served.
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
)

func main() {
	bin := flag.String("tagwatch", "", "tagwatch binary (default: go build ./cmd/tagwatch into a temporary directory)")
	serve := flag.Bool("serve", false, "seed the registry, print its URL and serve until interrupted")
	runs := flag.Int("runs", 1, "runs per scenario; the fastest is reported")
	semverTags := flag.Int("semver-tags", 10300, "tags of bench/semver")
	buildTags := flag.Int("build-tags", 300, "tags (images) of bench/builds")
	flag.Parse()
	log.SetFlags(0)

	h := testreg.NewHandler(testreg.Options{PageSize: 1000})
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	start := time.Now()
	if err := seed(h, host, *semverTags, *buildTags); err != nil {
		log.Fatal(err)
	}
	log.Printf("registry %s seeded in %v: %s/bench/semver (%d tags), %s/bench/builds (%d images)",
		srv.URL, time.Since(start).Round(time.Millisecond), host, *semverTags, host, *buildTags)
	if *serve {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		<-ctx.Done()
		return
	}

	tmp, err := os.MkdirTemp("", "tagwatch-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if *bin == "" {
		*bin = filepath.Join(tmp, "tagwatch")
		build := exec.Command("go", "build", "-trimpath", "-o", *bin, "./cmd/tagwatch")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			log.Fatalf("building tagwatch: %v", err)
		}
	}
	fast := writeConfig(tmp, host)

	type scenario struct {
		name  string
		args  []string
		cache string // XDG_CACHE_HOME; shared between cold and warm
		fresh bool   // empty the cache first
	}
	semver := []string{"test", host + "/bench/semver", "--constraint", ">=0"}
	builds := []string{"test", host + "/bench/builds", "--strategy", "newest-build", "--allow-tags", "^sha-"}
	var scenarios []scenario
	for _, rate := range []struct {
		label string
		extra []string
	}{{"20 req/s (default)", nil}, {"rateLimit 1000", []string{"--config", fast}}} {
		cache := filepath.Join(tmp, "cache-"+strconv.Itoa(len(scenarios)))
		scenarios = append(scenarios,
			scenario{"semver, 10,300 tags, " + rate.label, append(append([]string{}, semver...), rate.extra...), cache, true},
			scenario{"newest-build, 300 tags, cold, " + rate.label, append(append([]string{}, builds...), rate.extra...), cache, true},
			scenario{"newest-build, 300 tags, warm, " + rate.label, append(append([]string{}, builds...), rate.extra...), cache, false},
		)
	}
	fmt.Printf("%-48s %9s %9s %9s  %s\n", "scenario", "wall", "peak RSS", "requests", "by kind / picked")
	for _, sc := range scenarios {
		var best *result
		for range *runs {
			if sc.fresh {
				os.RemoveAll(sc.cache)
			}
			h.ResetCounts()
			r, err := measure(*bin, sc.cache, sc.args)
			if err != nil {
				log.Fatalf("%s: %v", sc.name, err)
			}
			r.requests = h.Requests()
			if best == nil || r.wall < best.wall {
				best = r
			}
		}
		fmt.Printf("%-48s %8.2fs %6.0f MiB %9d  %s / %s\n", sc.name, best.wall.Seconds(), float64(best.rssKiB)/1024,
			len(best.requests), kinds(h, best.requests), best.picked)
	}
}

type result struct {
	wall     time.Duration
	rssKiB   int
	picked   string
	requests []string
}

var (
	wallRE = regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)`)
	rssRE  = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
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
	if t := tagRE.FindSubmatch(stdout.Bytes()); t != nil {
		res.picked = string(t[1])
	}
	return res, nil
}

func kinds(h *testreg.Handler, reqs []string) string {
	count := func(method, sub string) int {
		n := 0
		for _, r := range reqs {
			m, rest, _ := strings.Cut(r, " ")
			p, _, _ := strings.Cut(rest, "?")
			if m == method && strings.Contains(p, sub) {
				n++
			}
		}
		return n
	}
	return fmt.Sprintf("list %d, HEAD %d, manifest GET %d, blob GET %d, ping %d",
		count("GET", "/tags/list"), count("HEAD", "/manifests/"), count("GET", "/manifests/"), count("GET", "/blobs/"), count("GET", "/v2/")-count("GET", "/v2/b"))
}

// writeConfig writes a tagwatch.yaml whose only purpose is registry
// settings: rateLimit 1000 for the local registry.
func writeConfig(dir, host string) string {
	p := filepath.Join(dir, "tagwatch.yaml")
	cfg := fmt.Sprintf(`git:
  url: %s
registries:
  - prefix: %s
    rateLimit: 1000
environments:
  - name: bench
    path: envs/bench
    images:
      - image: %s/bench/builds
`, filepath.Join(dir, "unused.git"), host, host)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}
	return p
}

// seed fills the two repositories.
func seed(h *testreg.Handler, host string, semverTags, buildTags int) error {
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
		return remote.Write(ref, img)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := push("bench/semver", "0.0.0", t0); err != nil {
		return err
	}
	tags := make([]string, 0, semverTags)
	for i := 1; i < semverTags; i++ {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10))
	}
	if err := h.Tag("bench/semver", "0.0.0", tags...); err != nil {
		return err
	}
	for i := range buildTags {
		if err := push("bench/builds", fmt.Sprintf("sha-%07x", i*7919), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			return err
		}
	}
	return nil
}
