package e2e

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestWebhookPushReachesGitWithoutPolling: Debian's docker-registry
// notifies tagwatch of a push; the environments watching the pushed
// repository move at once, although the poll interval is an hour. A
// request with a wrong secret is refused and triggers nothing; /metrics
// counts both.
func TestWebhookPushReachesGitWithoutPolling(t *testing.T) {
	const secret = "e2e-notification-secret"
	addr := freeAddr(t)
	notify := fmt.Sprintf(`notifications:
  endpoints:
    - name: tagwatch
      url: http://%s/webhooks/registry?type=distribution
      headers: {Authorization: [Bearer %s]}
      timeout: 2s
      threshold: 3
      backoff: 1s
`, addr, secret)
	w := newWorldWith(t, twoOverlays("0.9.0"), testreg.DistributionOptions{Auth: true, ExtraConfig: notify})
	cfg := w.config(stagingProduction)
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(raw), "interval: 1s", "interval: 1h", 1) + "webhooks:\n  - {type: distribution, secret: env:TW_E2E_WEBHOOK}\n"
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	d := w.startDaemon(cfg, []string{"TW_E2E_WEBHOOK=" + secret}, "--listen", addr)

	first := d.next(t, time.Minute)
	if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0", "production 0.9.0->1.0.0"}, moves(first.Changes)); diff != "" {
		t.Fatalf("first cycle (-want +got):\n%s", diff)
	}

	// A forged notification: refused, and no cycle follows it.
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/registry?type=distribution",
		strings.NewReader(`{"events":[{"action":"push","target":{"repository":"team/app","tag":"9.9.9"}}]}`))
	req.Header.Set("Authorization", "Bearer not-the-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged notification: %d, want 401", resp.StatusCode)
	}

	w.reg.PushImage(t, "team/app", t0.Add(time.Hour), "1.0.1")
	// The registry's notification triggers a cycle of its own (the
	// interval is an hour). Blob pushes notify too, without a tag: skip
	// reports without changes.
	deadline := time.Now().Add(time.Minute)
	var moved report
	for time.Now().Before(deadline) && len(moved.Changes) == 0 {
		moved = d.next(t, time.Until(deadline))
	}
	if diff := cmp.Diff([]string{"staging 1.0.0->1.0.1", "production 1.0.0->1.0.1"}, moves(moved.Changes)); diff != "" {
		t.Errorf("cycle after the push (-want +got):\n%s\n%s", diff, d.stderr.String())
	}
	if got := w.show("envs/production/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.1") {
		t.Errorf("production on the remote:\n%s", got)
	}

	_, body := get(t, "http://"+addr+"/metrics")
	for _, want := range []struct {
		series string
		check  func(float64) bool
		what   string
	}{
		{`tagwatch_webhook_events_total{result="accepted",type="distribution"}`, func(v float64) bool { return v >= 1 }, ">= 1"},
		{`tagwatch_webhook_events_total{result="unauthorized",type="distribution"}`, func(v float64) bool { return v == 1 }, "1"},
		{`tagwatch_changes_total{environment="production"}`, func(v float64) bool { return v == 2 }, "2"},
		{`tagwatch_git_pushes_total{result="ok"}`, func(v float64) bool { return v == 2 }, "2"},
		{`tagwatch_watched_images`, func(v float64) bool { return v == 1 }, "1"},
		{`tagwatch_leader`, func(v float64) bool { return v == 1 }, "1"},
	} {
		v, ok := metricValue(body, want.series)
		if !ok || !want.check(v) {
			t.Errorf("%s = %v (found %v), want %s", want.series, v, ok, want.what)
		}
	}
}

// metricValue finds series (name and labels exactly as exposed) in a
// Prometheus text exposition.
func metricValue(body, series string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
