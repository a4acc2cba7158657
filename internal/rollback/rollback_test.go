package rollback

import (
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// above ranks semver values, as the environment's policy would.
func above(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	if errA != nil || errB != nil {
		return false
	}
	return va.GreaterThan(vb)
}

func gap(after, tag string) (string, string) { return "f0f0f0f0f0f0", "Ada" }

func TestDetect(t *testing.T) {
	up := func(from, to, digest, commit string) Event {
		return Event{Kind: Update, From: from, To: to, Digest: digest, Commit: commit, Author: "tagwatch"}
	}
	for _, tc := range []struct {
		name    string
		events  []Event // newest first
		current string
		want    map[string]Found
	}{
		{"nothing", nil, "1.0.0", map[string]Found{}},
		// Another field or file edited leaves the value as tagwatch wrote it:
		// the same input (the loop's TestGitRevertIsARollback edits one).
		{"tagwatch's value stands", []Event{up("1.0.0", "1.1.0", d1, "c1")}, "1.1.0", map[string]Found{}},
		{"a person moved it back", []Event{up("1.0.0", "1.1.0", d1, "c1")}, "1.0.0",
			map[string]Found{d1: {Digest: d1, Tag: "1.1.0", Commit: "f0f0f0f0f0f0", Author: "Ada", After: "c1"}}},
		{"a person moved it up: no rollback", []Event{up("1.0.0", "1.1.0", d1, "c1")}, "1.2.0", map[string]Found{}},
		{"no digest known: nothing to hold", []Event{up("1.0.0", "1.1.0", "", "c1")}, "1.0.0", map[string]Found{}},
		{"tagwatch rollback", []Event{{Kind: Rollback, From: "1.1.0", To: "1.0.0", Digest: d1, Commit: "r1", Author: "Bo"}, up("1.0.0", "1.1.0", d1, "c1")}, "1.0.0",
			map[string]Found{d1: {Digest: d1, Tag: "1.1.0", Commit: "r1", Author: "Bo"}}},
		{"cleared", []Event{{Kind: Cleared, Digest: d1}, {Kind: Rollback, From: "1.1.0", To: "1.0.0", Digest: d1, Commit: "r1"}, up("1.0.0", "1.1.0", d1, "c1")}, "1.0.0", map[string]Found{}},
		{"cleared, then rolled back again", []Event{{Kind: Rollback, From: "1.1.0", To: "1.0.0", Digest: d1, Commit: "r2"}, {Kind: Cleared, Digest: d1}, {Kind: Rollback, From: "1.1.0", To: "1.0.0", Digest: d1, Commit: "r1"}}, "1.0.0",
			map[string]Found{d1: {Digest: d1, Tag: "1.1.0", Commit: "r2"}}},
		{"an older rollback is remembered", []Event{up("1.0.0", "1.2.0", d2, "c2"), up("1.0.0", "1.1.0", d1, "c1")}, "1.2.0",
			map[string]Found{d1: {Digest: d1, Tag: "1.1.0", Commit: "f0f0f0f0f0f0", Author: "Ada", After: "c1"}}},
		{"a retag keeps the digest: no rollback", []Event{up("1.1.0-rc.1", "1.1.0", d1, "c2"), up("1.0.0", "1.1.0-rc.1", d1, "c1")}, "1.1.0", map[string]Found{}},
		{"git revert of a retag: the digest is rolled back", []Event{up("1.1.0-rc.1", "1.1.0", d1, "c2"), up("1.0.0", "1.1.0-rc.1", d1, "c1")}, "1.0.0",
			map[string]Found{d1: {Digest: d1, Tag: "1.1.0", Commit: "f0f0f0f0f0f0", Author: "Ada", After: "c2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Detect(tc.events, tc.current, above, gap)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Detect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReason(t *testing.T) {
	if got, want := (Found{Digest: d1, Tag: "1.1.0", Commit: "f0f0f0f0f0f0f0", Author: "Ada"}).Reason(), "rolled back in f0f0f0f0f0 by Ada (1.1.0, sha256:111111111111…)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	if got, want := (Found{Digest: d1, Tag: "1.1.0", After: "c1c1c1c1c1c1c1"}).Reason(), "rolled back after c1c1c1c1c1 (1.1.0, sha256:111111111111…)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}
