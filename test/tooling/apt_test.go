// Package tooling tests the scripts of the build: what `make test` runs
// before Go does.
package tooling

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAptGet writes a stand-in for apt-get that answers `update` with
// "Could not get lock" the first locked times (forever when locked < 0),
// or fails with failWith, and logs every call with its arguments. It is a
// fake because the real lock is the machine's: holding it in a test would
// break every other apt-get running there.
func fakeAptGet(t *testing.T, locked int, failWith string) (bin, calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	bin = filepath.Join(dir, "apt-get")
	script := fmt.Sprintf(`#!/usr/bin/env bash
echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> %[1]q
n=$(grep -c ' update' %[1]q)
case " $* " in
*" update "*)
	if [ -n %[3]q ]; then echo %[3]q >&2; exit 100; fi
	if [ %[2]d -lt 0 ] || [ "$n" -le %[2]d ]; then
		echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
		echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
		exit 100
	fi ;;
esac
exit 0
`, calls, locked, failWith)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}

func runAptInstall(t *testing.T, bin string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("../../.ci/apt-install", "docker-registry", "apache2-utils")
	cmd.Env = append(append(os.Environ(), "APT_GET="+bin, "APT_LOCK_POLL=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readCalls(t *testing.T, calls string) []string {
	t.Helper()
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestAptInstallWaitsForTheLock: `make deps` waits while another apt-get
// holds its lock, then installs (issue 15, point 9: it died at once).
func TestAptInstallWaitsForTheLock(t *testing.T) {
	bin, calls := fakeAptGet(t, 2, "")
	out, err := runAptInstall(t, bin, "APT_LOCK_WAIT=7")
	if err != nil {
		t.Fatalf("apt-install: %v\n%s", err, out)
	}
	if !strings.Contains(out, "another apt-get or dpkg is running; waiting for it (up to 7s)") {
		t.Errorf("it does not say it waits:\n%s", out)
	}
	got := readCalls(t, calls)
	want := []string{
		"DEBIAN_FRONTEND=noninteractive -o DPkg::Lock::Timeout=7 update -qq",
		"DEBIAN_FRONTEND=noninteractive -o DPkg::Lock::Timeout=7 update -qq",
		"DEBIAN_FRONTEND=noninteractive -o DPkg::Lock::Timeout=7 update -qq",
		"DEBIAN_FRONTEND=noninteractive -o DPkg::Lock::Timeout=7 install -y -qq --no-install-recommends docker-registry apache2-utils",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAptInstallGivesUp: the wait is bounded, and an error that is not a
// held lock is not waited on.
func TestAptInstallGivesUp(t *testing.T) {
	bin, calls := fakeAptGet(t, -1, "")
	out, err := runAptInstall(t, bin, "APT_LOCK_WAIT=1")
	if err == nil || !strings.Contains(out, "held its lock for 1s") {
		t.Errorf("a lock held for ever: %v\n%s", err, out)
	}
	for _, c := range readCalls(t, calls) {
		if strings.Contains(c, "install") {
			t.Errorf("installed without the lock: %s", c)
		}
	}

	bin, calls = fakeAptGet(t, 0, "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease")
	out, err = runAptInstall(t, bin, "APT_LOCK_WAIT=60")
	if err == nil || !strings.Contains(out, "Failed to fetch") || strings.Contains(out, "waiting") {
		t.Errorf("another error: %v\n%s", err, out)
	}
	if n := len(readCalls(t, calls)); n != 1 {
		t.Errorf("%d calls, want 1: a failure other than the lock is not retried", n)
	}

	if out, err := runAptInstall(t, bin, "APT_LOCK_WAIT=0.5"); err == nil || !strings.Contains(out, "whole seconds") {
		t.Errorf("a wait in fractions: %v\n%s", err, out)
	}
}
