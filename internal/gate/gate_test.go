package gate

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	soak := Gate{From: "staging", Soak: 30 * time.Minute}
	healthy := Gate{From: "staging", Soak: 30 * time.Minute, RequireHealthy: true}
	runs := func(digest string, ago time.Duration) *Running {
		return &Running{Tag: "1.4.0-rc.1", Digest: digest, Since: now.Add(-ago), Commit: "0123456789abcdef"}
	}
	ok := &Health{Health: "Healthy", Sync: "Synced", Contains: true, Revision: "fedcba9876543210"}
	for _, tc := range []struct {
		name   string
		in     Input
		open   bool
		reason string
	}{
		{"soaked", Input{Gate: soak, Digest: dA, Running: runs(dA, 31*time.Minute)}, true,
			"staging has run sha256:aaaaaaaaaaaa… since 2026-11-30T11:29:00Z (commit 0123456789): 30m of soak, satisfied at 2026-11-30T11:59:00Z"},
		{"exactly the soak", Input{Gate: soak, Digest: dA, Running: runs(dA, 30*time.Minute)}, true,
			"staging has run sha256:aaaaaaaaaaaa… since 2026-11-30T11:30:00Z (commit 0123456789): 30m of soak, satisfied at 2026-11-30T12:00:00Z"},
		{"a second short", Input{Gate: soak, Digest: dA, Running: runs(dA, 30*time.Minute-time.Second)}, false,
			"waiting: staging has run sha256:aaaaaaaaaaaa… for 29m59s of 30m"},
		{"just started", Input{Gate: soak, Digest: dA, Running: runs(dA, 12*time.Minute)}, false,
			"waiting: staging has run sha256:aaaaaaaaaaaa… for 12m of 30m"},
		{"no soak", Input{Gate: Gate{From: "staging"}, Digest: dA, Running: runs(dA, 0)}, true,
			"staging has run sha256:aaaaaaaaaaaa… since 2026-11-30T12:00:00Z (commit 0123456789): 0s of soak, satisfied at 2026-11-30T12:00:00Z"},
		{"clock skew: commit in the future", Input{Gate: soak, Digest: dA, Running: runs(dA, -5*time.Minute)}, false,
			"waiting: staging has run sha256:aaaaaaaaaaaa… for 0s of 30m (its commit 0123456789 is dated 5m in the future)"},
		{"clock skew within no soak", Input{Gate: Gate{From: "staging"}, Digest: dA, Running: runs(dA, -time.Second)}, false,
			"waiting: staging has run sha256:aaaaaaaaaaaa… for 0s of 0s (its commit 0123456789 is dated 1s in the future)"},
		{"another digest (rolled back, or superseded)", Input{Gate: soak, Digest: dA, Running: runs(dB, 3*time.Hour)}, false,
			"staging has never run sha256:aaaaaaaaaaaa… (it runs 1.4.0-rc.1, sha256:bbbbbbbbbbbb…)"},
		{"never ran anything", Input{Gate: soak, Digest: dA}, false, "staging has never run sha256:aaaaaaaaaaaa…"},
		{"history gone (force push)", Input{Gate: soak, Digest: dA, Unknown: "no Tagwatch-Update trailer of staging for this image in the history read (2000 commits)"}, false,
			"staging has never run sha256:aaaaaaaaaaaa… through tagwatch: no Tagwatch-Update trailer of staging for this image in the history read (2000 commits)"},
		{"trailer without digest", Input{Gate: soak, Digest: dA, Running: runs("", time.Hour)}, false,
			"staging runs 1.4.0-rc.1, but its commit 0123456789 names no digest: the gate cannot tell which image it is"},
		{"candidate digest unknown", Input{Gate: soak, Running: runs(dA, time.Hour)}, false,
			"the candidate's digest is unknown: staging cannot vouch for it"},
		{"healthy", Input{Gate: healthy, Digest: dA, Running: runs(dA, time.Hour), Health: ok}, true,
			"staging has run sha256:aaaaaaaaaaaa… since 2026-11-30T11:00:00Z (commit 0123456789): 30m of soak, satisfied at 2026-11-30T11:30:00Z, and is Healthy and Synced"},
		{"health unknown", Input{Gate: healthy, Digest: dA, Running: runs(dA, time.Hour)}, false, "staging's health is unknown"},
		{"degraded", Input{Gate: healthy, Digest: dA, Running: runs(dA, time.Hour), Health: &Health{Health: "Degraded", Sync: "Synced", Contains: true}}, false, "staging is Degraded"},
		{"out of sync", Input{Gate: healthy, Digest: dA, Running: runs(dA, time.Hour), Health: &Health{Health: "Healthy", Sync: "OutOfSync", Contains: true}}, false, "staging is OutOfSync"},
		{"synced before the commit", Input{Gate: healthy, Digest: dA, Running: runs(dA, time.Hour), Health: &Health{Health: "Healthy", Sync: "Synced", Revision: "fedcba9876543210"}}, false,
			"staging is synced at fedcba9876, which does not hold 0123456789 yet"},
		{"health checked only after the soak", Input{Gate: healthy, Digest: dA, Running: runs(dA, time.Minute)}, false,
			"waiting: staging has run sha256:aaaaaaaaaaaa… for 1m of 30m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Now = now
			got := Check(tc.in)
			if got.Open != tc.open || got.Reason != tc.reason {
				t.Errorf("Check = open %v %q\nwant   open %v %q", got.Open, got.Reason, tc.open, tc.reason)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		from  map[string]string
		want  []string
		err   string
	}{
		{"chain written backwards", []string{"production", "staging", "dev"}, map[string]string{"production": "staging", "staging": "dev"}, []string{"dev", "staging", "production"}, ""},
		{"ungated keep their order", []string{"b", "a", "c"}, nil, []string{"b", "a", "c"}, ""},
		{"fan out", []string{"eu", "us", "staging"}, map[string]string{"eu": "staging", "us": "staging"}, []string{"staging", "eu", "us"}, ""},
		{"cycle", []string{"a", "b", "c"}, map[string]string{"a": "b", "b": "c", "c": "a"}, nil, "promotion cycle: a <- b <- c <- a"},
		{"self", []string{"a"}, map[string]string{"a": "a"}, nil, "promotion cycle: a <- a"},
		{"unknown", []string{"a"}, map[string]string{"a": "qa"}, nil, `a is promoted from "qa", which is not an environment of its repository and branch`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Order(tc.names, tc.from)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Order error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 2 * time.Second: "2s", 30 * time.Minute: "30m", 29*time.Minute + 59*time.Second: "29m59s",
		time.Hour: "1h", 90 * time.Minute: "1h30m", time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
