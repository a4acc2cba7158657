package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testreg"
)

// runRegistryCmd runs the CLI in process, with a scratch user cache
// directory, and returns stdout and the exit status.
func runRegistryCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	out, err := execute(t, args...)
	if err != nil {
		t.Logf("error: %v", err)
	}
	return out, exitCode(err)
}

func TestPromote(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	digest := srv.PushImage(t, "team/app", time.Now(), "1.4.0-rc.2")
	srv.ResetCounts()
	out, code := runRegistryCmd(t, "promote", srv.Repo("team/app:1.4.0-rc.2"), "1.4.0", "stable")
	if code != exitOK || strings.TrimSpace(out) != digest {
		t.Fatalf("promote: exit %d, stdout %q; want 0 and %s", code, out, digest)
	}
	if n := srv.Count("", "/blobs/"); n != 0 {
		t.Errorf("promote touched blobs: %q", srv.Requests())
	}
	for _, tag := range []string{"1.4.0", "stable"} {
		srv.ResetCounts()
		if out, code := runRegistryCmd(t, "promote", srv.Repo("team/app:"+tag), tag+"-again"); code != exitOK || strings.TrimSpace(out) != digest {
			t.Errorf("%s does not hold the promoted digest: %q (exit %d)", tag, out, code)
		}
	}
	if _, code := runRegistryCmd(t, "promote", srv.Repo("team/app:missing"), "x"); code != exitFailed {
		t.Errorf("missing source: exit %d, want %d", code, exitFailed)
	}
	other := srv.PushImage(t, "team/app", time.Now().Add(time.Hour), "1.5.0")
	if out, code := runRegistryCmd(t, "promote", srv.Repo("team/app:1.4.0-rc.2"), "1.5.0"); code != exitFailed || out != "" {
		t.Errorf("onto another image: exit %d, stdout %q; want %d and nothing", code, out, exitFailed)
	}
	if out, code := runRegistryCmd(t, "promote", srv.Repo("team/app:1.4.0-rc.2"), "1.5.0", "--force"); code != exitOK || strings.TrimSpace(out) != digest {
		t.Errorf("--force: exit %d, stdout %q", code, out)
	}
	if out, _ := runRegistryCmd(t, "promote", srv.Repo("team/app:1.5.0"), "x"); strings.TrimSpace(out) == other {
		t.Errorf("1.5.0 was not moved by --force")
	}
}

func TestPromoteUsage(t *testing.T) {
	for _, args := range [][]string{
		{"promote"},
		{"promote", "registry.example.com/team/app:1.0.0"},
		{"promote", "registry.example.com/team/app", "1.0.0"},
		{"promote", "registry.example.com/team/app:1.0.0", "not a tag"},
		{"promote", "Registry.Example.com/Team/App:1.0.0", "x"},
		{"promote", "registry.example.com/team/app:1.0.0", "nginx:1.27"}, // another repository names its registry
		{"promote", "--config", "tagwatch.yaml", "--insecure", "registry.example.com/team/app:1.0.0", "x"},
	} {
		if _, code := runRegistryCmd(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
