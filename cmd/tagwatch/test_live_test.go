package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// liveJSON runs `tagwatch test args... -o json` against a registry.
func liveJSON(t *testing.T, args ...string) (testJSON, int) {
	t.Helper()
	out, code := runRegistryCmd(t, append(append([]string{"test"}, args...), "-o", "json")...)
	var got testJSON
	if code == exitOK {
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("stdout %q: %v", out, err)
		}
	}
	return got, code
}

func TestTestLive(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{PageSize: 3})
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	old := srv.PushImage(t, "team/app", t0, "1.0.0", "1.1.0", "sha-aaa")
	srv.PushImage(t, "team/app", t0.Add(2*time.Hour), "1.2.0", "sha-ccc")
	multi := srv.PushIndex(t, "team/app", t0.Add(time.Hour), []string{"linux/amd64", "linux/arm64"}, "2.0.0-rc.1", "sha-bbb")
	repo := srv.Repo("team/app")

	for _, tc := range []struct {
		name string
		args []string
		want testJSON
	}{
		{"semver", []string{"--constraint", "^1"},
			testJSON{Image: repo, Tag: "1.2.0", Candidates: []string{"1.2.0", "1.1.0", "1.0.0"}}},
		{"semver with prereleases", []string{"--constraint", ">=1.0.0-0"},
			testJSON{Image: repo, Tag: "2.0.0-rc.1", Candidates: []string{"2.0.0-rc.1", "1.2.0", "1.1.0", "1.0.0"}}},
		{"newest-build", []string{"--strategy", "newest-build", "--allow-tags", "^sha-"},
			testJSON{Image: repo, Tag: "sha-ccc", Candidates: []string{"sha-ccc", "sha-bbb", "sha-aaa"}}},
		{"newest-build on arm64", []string{"--strategy", "newest-build", "--allow-tags", "^sha-", "--platform", "linux/arm64"},
			testJSON{Image: repo, Tag: "sha-bbb", Digest: multi, Candidates: []string{"sha-bbb"}}},
		{"digest", []string{"--strategy", "digest", "--constraint", "1.0.0"},
			testJSON{Image: repo, Tag: "1.0.0", Digest: old, Candidates: []string{"1.0.0"}}},
		{"no match", []string{"--constraint", "^9"},
			testJSON{Image: repo, Candidates: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, code := liveJSON(t, append([]string{repo}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d", code)
			}
			if tc.want.Digest == "" {
				got.Digest = "" // not asserted unless given
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("-o json (-want +got):\n%s", diff)
			}
		})
	}

	if _, code := liveJSON(t, srv.Repo("team/missing")); code != exitFailed {
		t.Errorf("missing repository: exit %d, want %d", code, exitFailed)
	}
	if _, code := liveJSON(t, repo, "--insecure"); code != exitOK {
		t.Errorf("--insecure: exit %d", code)
	}
}

// TestTestLiveConfig: registry settings from --config: a TLS registry on
// loopback (paginated, which ggcr alone refuses) with basic auth.
func TestTestLiveConfig(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{TLS: true, User: "robot", Pass: "pa55-w0rd", PageSize: 2})
	srv.PushImage(t, "team/app", time.Now(), "1.0.0", "1.0.1", "1.1.0", "1.2.0-rc.1", "1.2.0")
	repo := srv.Repo("team/app")
	dir := t.TempDir()
	writeConfig := func(registries string) string {
		p := filepath.Join(dir, "tagwatch.yaml")
		cfg := fmt.Sprintf(`git:
  url: %s
registries:
%s
environments:
  - name: staging
    path: envs/staging
    images:
      - image: %s
`, filepath.Join(dir, "repo.git"), registries, repo)
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := writeConfig(fmt.Sprintf("  - prefix: %s\n    caFile: %s\n    credentials: %s\n", srv.Prefix(), srv.CAFile, srv.CredentialsFile(t)))
	got, code := liveJSON(t, repo, "--config", good)
	want := testJSON{Image: repo, Tag: "1.2.0", Candidates: []string{"1.2.0", "1.1.0", "1.0.1", "1.0.0"}}
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	noAuth := writeConfig(fmt.Sprintf("  - prefix: %s\n    caFile: %s\n", srv.Prefix(), srv.CAFile))
	if _, code := liveJSON(t, repo, "--config", noAuth); code != exitFailed {
		t.Errorf("without credentials: exit %d, want %d", code, exitFailed)
	}
	if _, code := liveJSON(t, repo, "--config", filepath.Join(dir, "missing.yaml")); code != exitUsage {
		t.Errorf("missing config: exit %d, want %d", code, exitUsage)
	}
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("server not on TLS: %s", srv.URL)
	}
}

// TestTestLiveInvalidNames: names a registry lists that are not valid tags
// are dropped before the policy, and the explanation says how many, quoted
// and cut short (a 100 KB name stays a short line).
func TestTestLiveInvalidNames(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "1.0.0", "1.0.1")
	for _, tag := range []string{"9.9.9+build", "9.9.9+" + strings.Repeat("x", 100<<10)} {
		if err := srv.Handler.Tag("team/app", "1.0.0", tag); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runRegistryCmd(t, "test", srv.Repo("team/app"), "--current", "1.0.0")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"tag:        1.0.1\n", `invalid:    2 invalid tag names dropped ("9.9.9+build", "9.9.9+xxx`, "more bytes)", "seen:       2 tags\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%.2000s", want, out)
		}
	}
	if len(out) > 2000 {
		t.Errorf("the explanation is %d bytes long", len(out))
	}
}
