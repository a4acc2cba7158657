package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testreg"
)

// BenchmarkWebhookLatency measures, through the built binary and Debian's
// docker-registry, the time from a push (remote.Write returning) to the
// commit on the git remote, with the poll interval at an hour: the
// registry's notification is the only trigger. Each iteration pushes a new
// tag; p50 and p95 are reported, and the registry requests tagwatch made
// per push (from its /metrics).
//
//	go test -run '^$' -bench WebhookLatency -benchtime 50x ./test/e2e/
func BenchmarkWebhookLatency(b *testing.B) {
	const secret = "bench-notification-secret"
	addr := freeAddr(b)
	notify := fmt.Sprintf("notifications:\n  endpoints:\n    - name: tagwatch\n      url: http://%s/webhooks/registry?type=distribution\n      headers: {Authorization: [Bearer %s]}\n      timeout: 2s\n      threshold: 3\n      backoff: 1s\n", addr, secret)
	w := newWorldWith(b, twoOverlays("0.9.0"), testreg.DistributionOptions{Auth: true, ExtraConfig: notify})
	cfg := w.config(stagingProduction)
	raw, _ := os.ReadFile(cfg)
	y := strings.Replace(string(raw), "interval: 1s", "interval: 1h", 1) + "webhooks:\n  - {type: distribution, secret: env:TW_BENCH_WEBHOOK}\n"
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		b.Fatal(err)
	}
	w.reg.PushImage(b, "team/app", t0, "1.0.0")
	d := w.startDaemon(cfg, []string{"TW_BENCH_WEBHOOK=" + secret}, "--listen", addr)
	d.next(b, time.Minute) // the first full cycle
	head := filepath.Join(w.bare, "refs", "heads", "main")
	read := func() string { s, _ := os.ReadFile(head); return string(s) }
	requests := func() float64 {
		_, body := get(b, "http://"+addr+"/metrics")
		total := 0.0
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "tagwatch_registry_requests_total{") {
				var v float64
				fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
				total += v
			}
		}
		return total
	}
	before := requests()
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		prev := read()
		w.reg.PushImage(b, "team/app", t0.Add(time.Duration(i+1)*time.Hour), fmt.Sprintf("1.0.%d", i+1))
		start := time.Now()
		for read() == prev {
			if time.Since(start) > time.Minute {
				b.Fatalf("push %d: no commit within a minute\n%s", i, d.stderr.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
		// Both environments' commits go out in one push; wait for the report.
		d.next(b, time.Minute)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
	b.ReportMetric((requests()-before)/float64(b.N), "registry-requests/push")
}
