package webhook

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestDistributionNotifications runs Debian's docker-registry (CNCF
// distribution 2.8) with two notification endpoints on 127.0.0.1: one
// sends the right secret, one a wrong one. A push with
// go-containerregistry reaches the first handler's sink as one event
// naming the image as a client writes it ("127.0.0.1:PORT/team/app"); the
// blob pushes before it carry no event; the second handler refuses every
// delivery with 401 and its sink stays empty.
func TestDistributionNotifications(t *testing.T) {
	good, goodRec := newTestHandler(t, WithSecret(TypeDistribution, staticSecret(testSecret)))
	bad, badRec := newTestHandler(t, WithSecret(TypeDistribution, staticSecret(testSecret)))
	goodSrv, badSrv := httptest.NewServer(good), httptest.NewServer(bad)
	t.Cleanup(goodSrv.Close)
	t.Cleanup(badSrv.Close)

	// The block docs/webhooks.md shows, twice. ignore: pull events are
	// never needed.
	endpoint := func(name, url, secret string) string {
		return fmt.Sprintf(`    - name: %s
      url: %s%s?type=distribution
      headers:
        Authorization: [Bearer %s]
      timeout: 5s
      threshold: 3
      backoff: 1s
      ignore:
        actions: [pull]
`, name, url, Path, secret)
	}
	reg := testreg.StartDistribution(t, testreg.DistributionOptions{
		TLS: true, Auth: true,
		ExtraConfig: "notifications:\n  endpoints:\n" +
			endpoint("tagwatch", goodSrv.URL, testSecret) +
			endpoint("impostor", badSrv.URL, "not-the-secret"),
	})

	digest := reg.PushImage(t, "team/app", time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC), "1.4.0")
	want := []sunk{{TypeDistribution, []Event{{Repository: reg.Repo("team/app"), Tag: "1.4.0", Digest: digest}}}}

	// Deliveries are asynchronous: wait (bounded) until the tagged push and
	// at least one blob push have arrived, and the impostor has been
	// refused at least once.
	var gotSunk, badSunk []sunk
	var goodObs, badObs []observation
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && (len(gotSunk) == 0 || len(goodObs) < 2 || len(badObs) == 0) {
		time.Sleep(50 * time.Millisecond)
		s, o := goodRec.take()
		gotSunk, goodObs = append(gotSunk, s...), append(goodObs, o...)
		s, o = badRec.take()
		badSunk, badObs = append(badSunk, s...), append(badObs, o...)
	}
	if diff := cmp.Diff(want, gotSunk); diff != "" {
		t.Errorf("sink of the right secret (-want +got):\n%s", diff)
	}
	if len(goodObs) < 2 {
		t.Errorf("right secret: %d deliveries, want the blob pushes too: %v", len(goodObs), goodObs)
	}
	for _, o := range goodObs {
		if o != (observation{TypeDistribution, ResultAccepted}) {
			t.Errorf("right secret: delivery observed as %v", o)
		}
	}
	if len(badObs) == 0 {
		t.Error("wrong secret: no delivery arrived")
	}
	for _, o := range badObs {
		if o != (observation{TypeDistribution, ResultUnauthorized}) {
			t.Errorf("wrong secret: delivery observed as %v", o)
		}
	}
	if len(badSunk) != 0 {
		t.Errorf("wrong secret reached the sink: %v", badSunk)
	}
}
