package resolve_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/policy"
)

// TestFindDropsInvalidNames pins issue 14's fifth point: a registry lists
// names that are not valid tags; one ranked highest used to be picked,
// refused by the writer, and the image failed every cycle while the valid
// 1.0.1 was never written. They are dropped as listed, and counted.
func TestFindDropsInvalidNames(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "1.0.0", "1.0.1")
	hostile := "9.9.9+" + strings.Repeat("b", 100<<10) // valid semver, 100 KB
	for _, tag := range []string{"9.9.9+build", "9.9.9:evil", "9.9.9-x\x01y", hostile} {
		if err := srv.Handler.Tag("team/app", "1.0.0", url.PathEscape(tag)); err != nil {
			t.Fatal(err)
		}
	}
	pol := mustPolicy(t, policy.Spec{Strategy: policy.Semver, Constraint: ">=1.0.0-0"})
	found, err := resolve.Find(context.Background(), client(t, srv), pol, srv.Repo("team/app"))
	if err != nil {
		t.Fatal(err)
	}
	if res := pol.Select(found.Tags, policy.Current{Tag: "1.0.0"}); res.Tag != "1.0.1" || res.Decision != policy.Update {
		t.Errorf("picked %q (%s), want an update to 1.0.1", res.Tag, res.Decision)
	}
	if found.Invalid.N != 4 || len(found.Invalid.Sample) != 3 {
		t.Errorf("Invalid = %+v, want 4 counted, 3 shown", found.Invalid)
	}
	msg := found.Invalid.String()
	if !strings.HasPrefix(msg, "4 invalid tag names dropped (") || len(msg) > 300 || strings.ContainsRune(msg, '\x01') {
		t.Errorf("Invalid.String() = %q (%d bytes)", msg, len(msg))
	}
	cands, err := resolve.Candidates(context.Background(), client(t, srv), pol, srv.Repo("team/app"))
	if err != nil || len(cands) != 2 {
		t.Errorf("Candidates = %+v, %v; want the 2 valid tags", cands, err)
	}
}

func TestValidNames(t *testing.T) {
	all := []string{"1.0.0", "a:b", "latest"}
	got, iv := resolve.ValidNames(all)
	if diff := cmp.Diff([]string{"1.0.0", "latest"}, got); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(resolve.Invalid{N: 1, Sample: []string{`"a:b"`}}, iv); diff != "" {
		t.Errorf("invalid (-want +got):\n%s", diff)
	}
	if all[1] != "a:b" {
		t.Error("ValidNames changed its input")
	}
	clean := []string{"1", "2"}
	if got, iv := resolve.ValidNames(clean); &got[0] != &clean[0] || iv.N != 0 || iv.String() != "no invalid tag names" {
		t.Errorf("all valid: %q, %+v", got, iv)
	}
}

func TestQuoteName(t *testing.T) {
	for in, want := range map[string]string{
		"1.0.0":                   `"1.0.0"`,
		"a\x01b\n":                `"a\x01b\n"`,
		strings.Repeat("x", 64):   `"` + strings.Repeat("x", 64) + `"`,
		strings.Repeat("x", 1000): `"` + strings.Repeat("x", 64) + `"…(936 more bytes)`,
	} {
		if got := resolve.QuoteName(in); got != want {
			t.Errorf("QuoteName(%.20q…) = %q, want %q", in, got, want)
		}
	}
}

func FuzzQuoteName(f *testing.F) {
	f.Add("9.9.9+build")
	f.Add(strings.Repeat("é", 40))
	f.Fuzz(func(t *testing.T, s string) {
		q := resolve.QuoteName(s)
		if len(q) > 4*64+40 {
			t.Errorf("QuoteName of %d bytes is %d bytes long", len(s), len(q))
		}
		if strings.ContainsAny(q, "\n\r\x00") {
			t.Errorf("QuoteName(%q) = %q holds a control character", s, q)
		}
	})
}
